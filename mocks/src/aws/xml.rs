//! A small builder for the XML bodies AWS's Query APIs return, laid out the way AWS lays them out
//! (STS and IAM indent by two spaces, EC2 by four; text is escaped; empty elements are `<x/>`).

use super::error::xml_escape;

/// One XML element: text, children, or nothing.
#[derive(Debug, Clone)]
pub(crate) struct El {
    name: String,
    xmlns: Option<&'static str>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Text(String),
    Children(Vec<El>),
}

impl El {
    /// An element that will hold children.
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            xmlns: None,
            body: Body::Children(Vec::new()),
        }
    }

    /// `<name>value</name>`, escaped.
    pub(crate) fn text(name: &str, value: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            xmlns: None,
            body: Body::Text(value.into()),
        }
    }

    pub(crate) fn xmlns(mut self, ns: &'static str) -> Self {
        self.xmlns = Some(ns);
        self
    }

    pub(crate) fn child(mut self, c: El) -> Self {
        if let Body::Children(v) = &mut self.body {
            v.push(c);
        } else {
            self.body = Body::Children(vec![c]);
        }
        self
    }

    pub(crate) fn children(self, cs: impl IntoIterator<Item = El>) -> Self {
        cs.into_iter().fold(self, El::child)
    }

    /// The document: this element at the root, `step` spaces per level, a trailing newline.
    pub(crate) fn render(&self, step: usize) -> String {
        let mut out = String::new();
        self.write(0, step, &mut out);
        out
    }

    fn write(&self, depth: usize, step: usize, out: &mut String) {
        let pad = " ".repeat(depth * step);
        out.push_str(&pad);
        out.push('<');
        out.push_str(&self.name);
        if let Some(ns) = self.xmlns {
            out.push_str(" xmlns=\"");
            out.push_str(ns);
            out.push('"');
        }
        match &self.body {
            Body::Text(t) if !t.is_empty() => {
                out.push('>');
                out.push_str(&xml_escape(t));
                out.push_str("</");
                out.push_str(&self.name);
                out.push_str(">\n");
            }
            Body::Children(cs) if !cs.is_empty() => {
                out.push_str(">\n");
                for c in cs {
                    c.write(depth + 1, step, out);
                }
                out.push_str(&pad);
                out.push_str("</");
                out.push_str(&self.name);
                out.push_str(">\n");
            }
            _ => out.push_str("/>\n"),
        }
    }
}

/// The Query protocol's closing block: `<ResponseMetadata><RequestId>…`.
pub(crate) fn response_metadata(request_id: &str) -> El {
    El::new("ResponseMetadata").child(El::text("RequestId", request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_render_with_aws_indentation_and_escaping() {
        let doc = El::new("R")
            .xmlns("urn:x")
            .child(El::text("A", "a<b"))
            .child(El::new("Empty"))
            .child(El::new("B").child(El::text("C", "1")));
        assert_eq!(
            doc.render(2),
            "<R xmlns=\"urn:x\">\n  <A>a&lt;b</A>\n  <Empty/>\n  <B>\n    <C>1</C>\n  </B>\n</R>\n"
        );
    }
}
