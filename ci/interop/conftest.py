import json
import os

import pytest


@pytest.fixture(scope="session")
def endpoints():
    with open(os.environ["AUTHSIM_ENDPOINTS"]) as f:
        return json.load(f)
