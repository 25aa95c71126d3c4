//! The load engine: an open model (requests started on a schedule, latency measured from the
//! intended start, so a slow answer never delays the next request's clock — no coordinated
//! omission) or a closed model (C clients in a loop), recording into HDR histograms with memory
//! that does not grow with the request count.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authsim_mocks::clock::{Clock, SystemClock};
use authsim_mocks::Sim;
use hdrhistogram::Histogram;
use tokio::runtime::Handle;

use super::flows::{Done, Flow};
use super::report::{self, stage, Counts, ErrorCount, Second, Window};

/// How requests arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Steps of (requests per second, how long).
    Open(Vec<(f64, Duration)>),
    Closed(usize),
}

/// `RATE,DURATION;RATE,DURATION…` → steps.
pub fn parse_profile(s: &str) -> Result<Vec<(f64, Duration)>, String> {
    let mut steps = Vec::new();
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (rate, dur) = part.split_once(',').ok_or_else(|| {
            format!("profile step '{part}' is not RATE,DURATION (e.g. '100,30s;500,1m;0,10s')")
        })?;
        let rate: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r >= 0.0)
            .ok_or_else(|| format!("profile step '{part}': '{rate}' is not a rate (requests per second, 0 or more)"))?;
        if rate > MAX_RATE {
            return Err(format!(
                "profile step '{part}': {rate} requests per second is above what one process can send ({MAX_RATE}); split it over --workers"
            ));
        }
        let dur = authsim_mocks::clock::parse_duration(dur.trim())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!("profile step '{part}': '{dur}' is not a duration such as '30s' or '1m'")
            })?;
        steps.push((rate, dur));
    }
    if steps.is_empty() {
        return Err(format!(
            "profile '{s}' has no steps (e.g. '100,30s;500,1m;0,10s')"
        ));
    }
    Ok(steps)
}

/// The highest rate one process is asked to send (the generator reaches about a tenth of it
/// on two cores): a schedule walks every request it plans, so 1e12/s would never end.
pub const MAX_RATE: f64 = 1_000_000.0;

/// What the run measures into. One lock; recording is a few histogram increments.
struct Stats {
    hist: BTreeMap<&'static str, Histogram<u64>>,
    counts: Counts,
    errors: HashMap<(String, Option<u16>, String), u64>,
    /// What was answered since the last progress line (not the timeline: see `by_send`).
    sec: Second,
    /// The timeline's seconds still open, by the second a request was *sent* in (counted
    /// from the start of measurement): the first is second `first_open`. A second is closed
    /// into `timeline` once nothing sent in it can still be in flight, so a request answered
    /// late still lands in its own second and the timeline adds up to `counts`.
    by_send: std::collections::VecDeque<(Second, Histogram<u64>)>,
    first_open: u64,
    /// Unix seconds of measurement second 0.
    unix_s0: u64,
    timeline: Vec<Second>,
    /// When the last answer (a status, success or not) came.
    last_answer: Option<Instant>,
}

/// How long a second of the timeline stays open: a request outlives neither the client's
/// timeouts nor the drain.
const OPEN_SECONDS: u64 = 2 * DRAIN.as_secs() + 30;

/// Distinct error kinds kept; the rest are counted under one "other errors" kind.
const MAX_ERROR_KINDS: usize = 200;

impl Stats {
    fn new(unix_s0: u64) -> Stats {
        Stats {
            hist: BTreeMap::new(),
            counts: Counts::default(),
            errors: HashMap::new(),
            sec: Second::default(),
            by_send: std::collections::VecDeque::new(),
            first_open: 0,
            unix_s0,
            timeline: Vec::new(),
            last_answer: None,
        }
    }

    /// Measurement second `i` of the timeline, opened (with any before it) if need be; `None`
    /// once it is closed.
    fn second_sent(&mut self, i: u64) -> Option<&mut (Second, Histogram<u64>)> {
        let at = usize::try_from(i.checked_sub(self.first_open)?).ok()?;
        while self.by_send.len() <= at {
            let unix_s = self.unix_s0 + self.first_open + self.by_send.len() as u64;
            let s = Second {
                unix_s,
                ..Second::default()
            };
            self.by_send.push_back((s, second_histogram()));
        }
        self.by_send.get_mut(at)
    }

    /// Closes the timeline's seconds before measurement second `end`.
    fn close_before(&mut self, end: u64) {
        while self.first_open < end {
            let Some((mut s, h)) = self.by_send.pop_front() else {
                // Seconds nothing was sent in.
                self.timeline.push(Second {
                    unix_s: self.unix_s0 + self.first_open,
                    ..Second::default()
                });
                self.first_open += 1;
                continue;
            };
            if !h.is_empty() {
                s.p50_us = h.value_at_quantile(0.5);
                s.p99_us = h.value_at_quantile(0.99);
            }
            self.timeline.push(s);
            self.first_open += 1;
        }
    }

    fn record(&mut self, stage: &'static str, us: u64) {
        let h = self.hist.entry(stage).or_insert_with(report::new_histogram);
        let _ = h.record(us.max(1));
    }

    /// One measured request, sent in measurement second `sent_in`, answered now.
    fn done(&mut self, flow: &str, d: &Done, total_us: u64, sent_in: u64) {
        self.record(stage::TOTAL, total_us);
        for (s, us) in &d.stages {
            self.record(s, *us);
        }
        self.counts.sent += 1;
        self.sec.sent += 1;
        if let Some((sec, h)) = self.second_sent(sent_in) {
            sec.sent += 1;
            if d.ok {
                sec.ok += 1;
            } else {
                sec.errors += 1;
            }
            let _ = h.record(total_us.max(1));
        }
        if d.ok || d.status.is_some() {
            self.last_answer = Some(Instant::now());
        }
        if d.ok {
            self.counts.ok += 1;
            self.sec.ok += 1;
        } else {
            self.counts.errors += 1;
            self.counts.unanswered += u64::from(d.status.is_none());
            self.sec.errors += 1;
            let key = (
                flow.to_owned(),
                d.status,
                d.error
                    .as_deref()
                    .map_or_else(|| "unknown error".into(), error_kind),
            );
            if self.errors.len() < MAX_ERROR_KINDS || self.errors.contains_key(&key) {
                *self.errors.entry(key).or_default() += 1;
            } else {
                *self
                    .errors
                    .entry((
                        flow.to_owned(),
                        None,
                        format!("other errors (beyond {MAX_ERROR_KINDS} kinds)"),
                    ))
                    .or_default() += 1;
            }
        }
    }

    /// What was answered in the second just past, with the run's p50 and p99 so far, for the
    /// progress line; closes the timeline's seconds that nothing can land in any more.
    fn tick(&mut self, n: u64) -> Second {
        let mut s = std::mem::take(&mut self.sec);
        if let Some(h) = self.hist.get(stage::TOTAL).filter(|h| !h.is_empty()) {
            s.p50_us = h.value_at_quantile(0.5);
            s.p99_us = h.value_at_quantile(0.99);
        }
        self.close_before(n.saturating_sub(OPEN_SECONDS));
        s
    }
}

/// An error message as a kind: the ids an upstream puts in each answer (STS's `<RequestId>`,
/// any UUID) read `<id>`, so that 400 throttled logins are one kind, not 400.
fn error_kind(msg: &str) -> String {
    fn is_uuid(b: &[u8]) -> bool {
        b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    }
    let b = msg.as_bytes();
    let mut out = String::with_capacity(msg.len());
    let mut i = 0;
    while i < b.len() {
        if b.len() - i >= 36
            && is_uuid(&b[i..i + 36])
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b.get(i + 36).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            out.push_str("<id>");
            i += 36;
            continue;
        }
        if let Some(rest) = msg[i..].strip_prefix("<RequestId>") {
            if let Some(end) = rest.find("</RequestId>") {
                out.push_str("<RequestId><id></RequestId>");
                i += "<RequestId>".len() + end + "</RequestId>".len();
                continue;
            }
        }
        let c = msg[i..].chars().next().expect("i is on a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid histogram bounds")
}

/// The run's outcome, before it becomes a [`report::BenchReport`].
#[derive(Debug)]
pub struct Measured {
    pub window: Window,
    pub counts: Counts,
    pub histograms: BTreeMap<String, Histogram<u64>>,
    pub errors: Vec<ErrorCount>,
    pub timeline: Vec<Second>,
}

/// The flows of a mix, picked by weight in a fixed rotation.
#[derive(Debug)]
pub struct Mix {
    flows: Vec<Arc<Flow>>,
    rotation: Vec<usize>,
    next: AtomicUsize,
}

impl Mix {
    pub fn new(flows: Vec<(Arc<Flow>, u32)>) -> Mix {
        let mut rotation = Vec::new();
        for (i, (_, w)) in flows.iter().enumerate() {
            rotation.extend(std::iter::repeat_n(i, *w as usize));
        }
        Mix {
            flows: flows.into_iter().map(|(f, _)| f).collect(),
            rotation,
            next: AtomicUsize::new(0),
        }
    }

    fn pick(&self) -> Arc<Flow> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.flows[self.rotation[n % self.rotation.len()]].clone()
    }
}

/// How the run reports progress.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Rewrite one line on a terminal; else a plain line every `plain_every` seconds.
    pub live: bool,
    pub plain_every: u64,
}

impl Progress {
    pub fn detect(no_live: bool) -> Progress {
        Progress {
            live: !no_live && std::io::stderr().is_terminal(),
            plain_every: 5,
        }
    }
}

/// When and how much load to send.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub model: Model,
    pub warmup: Duration,
    /// The closed model's measured time (the open model's is the sum of its steps).
    pub duration: Duration,
    /// Open model: intended requests beyond this many outstanding are dropped.
    pub max_in_flight: usize,
}

/// How long the run waits, after its window, for the requests still in flight.
const DRAIN: Duration = Duration::from_secs(30);
/// The drain after an interrupt.
const INTERRUPTED_DRAIN: Duration = Duration::from_secs(5);

/// Runs the load and measures it. Requests (open model) and clients (closed model) are dealt
/// out in turn to the current runtime and `extra_runtimes`.
pub async fn run(
    mix: Arc<Mix>,
    schedule: Schedule,
    extra_runtimes: &[Handle],
    sim: Sim,
    progress: Progress,
    mut interrupt: tokio::sync::watch::Receiver<bool>,
) -> Measured {
    let Schedule {
        model,
        warmup,
        duration,
        max_in_flight,
    } = schedule;
    let runtimes = authsim_mocks::server::current_and(extra_runtimes);
    let in_flight = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + warmup;
    let total_measured = match &model {
        Model::Open(steps) => steps.iter().map(|(_, d)| *d).sum(),
        Model::Closed(_) => duration,
    };
    let measure_to = measure_from + total_measured;
    let wall_start = SystemClock.now() + (measure_from - Instant::now());
    let wall_start_ms = unix_ms(wall_start);
    let stats = Arc::new(Mutex::new(Stats::new(wall_start_ms / 1000)));
    // An interrupt (SIGINT, SIGTERM) ends the measurement where it is: nothing more is sent,
    // what is in flight is drained, and the window ends then.
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let watcher = {
        let (stopped, stopped_at, mut interrupt) =
            (stopped.clone(), stopped_at.clone(), interrupt.clone());
        tokio::spawn(async move {
            if interrupt.wait_for(|i| *i).await.is_ok() {
                let _ = stopped_at.set(Instant::now());
                stopped.store(true, Ordering::Relaxed);
            }
        })
    };
    // The measurement second a request sent at `t` belongs to.
    let second_of = move |t: Instant| t.saturating_duration_since(measure_from).as_secs();

    // What Vault spent waiting on the cloud mocks: their own journal, read as it fills, and once
    // more when the last request is answered (`drained`): Vault has made every call it will make
    // for those by then, so the report need not wait for another tick.
    let (drained, mut on_drained) = tokio::sync::oneshot::channel::<()>();
    let journal_task = {
        let (sim, stats) = (sim.clone(), stats.clone());
        tokio::spawn(async move {
            let mut seq = sim.journal().last_seq();
            let mut every = tokio::time::interval(Duration::from_millis(100));
            // Reused: a new vector each tick would take fresh pages from the allocator.
            let mut upstream = Vec::new();
            loop {
                let last = tokio::select! {
                    _ = every.tick() => false,
                    _ = &mut on_drained => true,
                };
                let now = Instant::now();
                if now < measure_from && !last {
                    seq = sim.journal().last_seq();
                    continue;
                }
                upstream.clear();
                seq = sim.journal().timings_since(seq, |t| {
                    if is_vault_upstream_call(t.listener, t.path) {
                        upstream.push(t.duration_micros);
                    }
                });
                let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                for &us in &upstream {
                    s.record(stage::UPSTREAM, us);
                }
                // (The signal comes at the latest when the drain gives up.)
                if last || now > measure_to + DRAIN + Duration::from_secs(1) {
                    break;
                }
            }
        })
    };

    let ticker = {
        let (stats, in_flight, stopped_t) = (stats.clone(), in_flight.clone(), stopped.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            let mut every = tokio::time::interval_at(
                (measure_from + Duration::from_secs(1)).into(),
                Duration::from_secs(1),
            );
            let mut n = 0u64;
            loop {
                every.tick().await;
                n += 1;
                let (sec, totals) = {
                    let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                    let sec = s.tick(n);
                    (sec, s.counts)
                };
                let line = format!(
                    "[{n:>4}s] {:>7} req/s  ok {:>9}  errors {:>6}  dropped {:>6}  p50 {:>8}  p99 {:>8}  in flight {:>5}",
                    sec.ok + sec.errors,
                    totals.ok,
                    totals.errors,
                    totals.dropped,
                    fmt_us(sec.p50_us),
                    fmt_us(sec.p99_us),
                    in_flight.load(Ordering::Relaxed),
                );
                if progress.live {
                    crate::eput!("\r{line}");
                    let _ = std::io::stderr().flush();
                } else if n.is_multiple_of(progress.plain_every) {
                    crate::eline!("{line}");
                }
                if Instant::now() + Duration::from_millis(500) >= measure_to
                    || stopped_t.load(Ordering::Relaxed)
                {
                    break;
                }
            }
            if progress.live {
                crate::eline!();
            }
        })
    };

    match model {
        Model::Open(steps) => {
            let mut at = start;
            let mut plan = Vec::new();
            if !warmup.is_zero() {
                plan.push((steps[0].0, warmup));
            }
            plan.extend(steps);
            'plan: for (rate, dur) in plan {
                let step_end = at + dur;
                if rate <= 0.0 {
                    at = step_end;
                    continue;
                }
                // Request k of the step starts at k / rate; computed from k (not by adding up
                // intervals) so rounding never drifts, and counted so a step of D at R sends
                // exactly round(D * R).
                let n = (dur.as_secs_f64() * rate).round() as u64;
                for k in 0..n {
                    let intended = at + Duration::from_secs_f64(k as f64 / rate);
                    tokio::select! {
                        () = wait_until(intended) => {}
                        () = interrupted(&mut interrupt) => {}
                    }
                    if *interrupt.borrow() {
                        break 'plan;
                    }
                    let measured = intended >= measure_from && intended < measure_to;
                    if in_flight.load(Ordering::Relaxed) as usize >= max_in_flight {
                        if measured {
                            stats
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .counts
                                .dropped += 1;
                        }
                        continue;
                    }
                    in_flight.fetch_add(1, Ordering::Relaxed);
                    let (mix, stats, in_flight) = (mix.clone(), stats.clone(), in_flight.clone());
                    runtimes[k as usize % runtimes.len()].spawn(async move {
                        let lag = Instant::now().saturating_duration_since(intended);
                        let flow = mix.pick();
                        let d = flow.one().await;
                        let total = intended.elapsed();
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        if measured {
                            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                            if lag > Duration::from_millis(1) {
                                s.counts.late += 1;
                            }
                            s.record(stage::SCHEDULE_LAG, lag.as_micros() as u64);
                            s.done(
                                &flow.name,
                                &d,
                                total.as_micros() as u64,
                                second_of(intended),
                            );
                        }
                    });
                }
                at = step_end;
            }
        }
        Model::Closed(c) => {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..c.max(1) {
                let (mix, stats, in_flight) = (mix.clone(), stats.clone(), in_flight.clone());
                let stopped = stopped.clone();
                let runtime = &runtimes[i % runtimes.len()];
                set.spawn_on(
                    async move {
                        tokio::time::sleep_until(start.into()).await;
                        loop {
                            let begun = Instant::now();
                            if begun >= measure_to || stopped.load(Ordering::Relaxed) {
                                break;
                            }
                            in_flight.fetch_add(1, Ordering::Relaxed);
                            let flow = mix.pick();
                            let d = flow.one().await;
                            let total = begun.elapsed();
                            in_flight.fetch_sub(1, Ordering::Relaxed);
                            if begun >= measure_from {
                                let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                                s.done(&flow.name, &d, total.as_micros() as u64, second_of(begun));
                            }
                        }
                    },
                    runtime,
                );
            }
            while set.join_next().await.is_some() {}
        }
    }
    // Let what is in flight finish (bounded), then close the books.
    tokio::select! {
        () = tokio::time::sleep_until(measure_to.into()) => {}
        () = interrupted(&mut interrupt) => {}
    }
    // After an interrupt, briefly: Kubernetes kills a pod 30 s after SIGTERM, and the
    // mounts on a real Vault are still to be removed.
    let drain_for = if stopped.load(Ordering::Relaxed) {
        INTERRUPTED_DRAIN
    } else {
        DRAIN
    };
    let drain_until = Instant::now() + drain_for;
    let waiting = in_flight.load(Ordering::Relaxed);
    if waiting > 0 {
        // Said, so that a slow target does not look like a hung generator.
        crate::eline!(
            "{}waiting up to {} s for {waiting} request(s) still in flight …",
            if progress.live { "\n" } else { "" },
            drain_for.as_secs()
        );
    }
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // What is still out now will not be answered within the run.
    let abandoned = in_flight.load(Ordering::Relaxed);
    let _ = drained.send(());
    let _ = ticker.await;
    let _ = journal_task.await;
    watcher.abort();
    // Cut short by an interrupt: the window ends where sending stopped.
    let measured_for = match stopped_at.get() {
        Some(&at) => at
            .saturating_duration_since(measure_from)
            .min(total_measured),
        None => total_measured,
    };
    let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
    // Every second of the window, the last one partial (2.5 s: three seconds), and any second
    // a request sent at the very moment of an interrupt opened.
    let open_end = s.first_open + s.by_send.len() as u64;
    s.close_before(open_end.max(measured_for.as_millis().div_ceil(1000) as u64));
    let window = Window {
        start_unix_ms: wall_start_ms,
        end_unix_ms: wall_start_ms + measured_for.as_millis() as u64,
        last_answer_unix_ms: s.last_answer.map_or(0, |at| {
            wall_start_ms + at.saturating_duration_since(measure_from).as_millis() as u64
        }),
    };
    let errors = ErrorCount::ranked(s.errors.drain());
    s.counts.abandoned = abandoned;
    Measured {
        window,
        counts: s.counts,
        histograms: std::mem::take(&mut s.hist)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        errors,
        timeline: std::mem::take(&mut s.timeline),
    }
}

/// Until an interrupt comes; never, once nobody can send one.
async fn interrupted(rx: &mut tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|i| *i).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps until `t` with sub-millisecond precision: tokio's timer ticks in whole milliseconds
/// (and rounds up), which alone would send every request up to 2 ms late; the last stretch is
/// spent yielding to other tasks instead.
async fn wait_until(t: Instant) {
    let coarse = Duration::from_micros(1500);
    if let Some(early) = t.checked_sub(coarse) {
        if early > Instant::now() {
            tokio::time::sleep_until(early.into()).await;
        }
    }
    while Instant::now() < t {
        tokio::task::yield_now().await;
    }
}

/// A call Vault made to a cloud mock (not the load client's own signJwt, metadata or IMDS calls).
fn is_vault_upstream_call(listener: &str, path: &str) -> bool {
    match listener {
        "aws" => !path.starts_with("/latest"),
        "google" => !(path.ends_with(":signJwt") || path.starts_with("/computeMetadata")),
        _ => false,
    }
}

fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `850µs`, `12.3ms`, `1.20s`.
pub fn fmt_us(us: u64) -> String {
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_profile("100,30s;500,1m;0,10s").unwrap(),
            vec![
                (100.0, Duration::from_secs(30)),
                (500.0, Duration::from_secs(60)),
                (0.0, Duration::from_secs(10))
            ]
        );
        assert!(parse_profile("100")
            .unwrap_err()
            .contains("is not RATE,DURATION"));
        assert!(parse_profile("x,1s")
            .unwrap_err()
            .contains("'x' is not a rate"));
        assert!(parse_profile("5,soon")
            .unwrap_err()
            .contains("'soon' is not a duration"));
        assert!(parse_profile("").unwrap_err().contains("has no steps"));
    }

    #[test]
    fn durations_print_in_their_unit() {
        assert_eq!(fmt_us(850), "850µs");
        assert_eq!(fmt_us(12_300), "12.3ms");
        assert_eq!(fmt_us(1_200_000), "1.20s");
    }

    #[test]
    fn error_kinds_leave_out_the_ids_each_answer_carries() {
        let a = "error making upstream request: received error code 400 from STS: <ErrorResponse><Error><Code>Throttling</Code></Error><RequestId>7f0e1c3a-9b1d-4c55-8e0f-1a2b3c4d5e6f</RequestId></ErrorResponse>";
        let b = a.replace(
            "7f0e1c3a-9b1d-4c55-8e0f-1a2b3c4d5e6f",
            "0123abcd-0000-4000-8000-00000000beef",
        );
        assert_eq!(error_kind(a), error_kind(&b));
        assert!(error_kind(a).ends_with("<RequestId><id></RequestId></ErrorResponse>"));
        assert_eq!(
            error_kind("lease 01234567-89ab-cdef-0123-456789abcdef gone"),
            "lease <id> gone"
        );
        assert_eq!(error_kind("permission denied é"), "permission denied é");
    }
}
