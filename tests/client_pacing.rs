//! Pacers against the limiter itself, over a simulated day.
//!
//! A server runs the confirmed preset (300 per hour, 60 per minute, sliding
//! windows) and answers every request at once with the headers
//! `keyrate::http` writes. A client asks its pacer how long to wait, waits
//! that long, sends, feeds the response back, then thinks for a random
//! while before asking again.
//!
//! The reference for "not needlessly slow" is an oracle client with the same
//! think times that asks the server's own limiter (`peek`) when it may send:
//! what the server would have admitted to a client that knew its exact
//! state.

use core::time::Duration;
use std::sync::Mutex;

use keyrate::client::headers::RateLimitField;
use keyrate::client::{HeaderPacer, Pacer};
use keyrate::http::{HeaderOptions, RateLimitHeaders};
use keyrate::limit::{HeapSlots, Policy, PolicyDecision, PolicyState};
use keyrate::preset;
use keyrate::time::Instant;

/// The simulated day.
const DAY: Duration = Duration::from_secs(86_400);

/// The most the confirmed policy admits in a day: its hourly window admits
/// at most 300 in any hour, so at most 300 in each of the day's 24 hours.
///
/// A greedy client that thinks at most θ = 2 s gets all of it. Let `s_i` be
/// the time of its `i`-th admitted request and `ρ` the pacer's rounding (0
/// for a model, under 1 s for headers, which speak in whole seconds). It
/// sends request `i + 300` once the unit of request `i` has left the hourly
/// window, the unit of request `i + 240` the burst window, and it has
/// thought:
///
/// `s(i+300) ≤ max(s(i) + 3600, s(i+240) + 60, s(i+299) + θ) + ρ`.
///
/// The burst window lets 60 go a minute, so 300 requests in a row span at
/// most 4 × (60 + ρ) + 300 θ ≤ 844 s, far less than the hour: the first
/// term wins, `s(i+300) ≤ s(i) + 3600 + ρ`, and the day's last request goes
/// by 844 + 23 × 3601 s < 86 400 s.
const DAY_QUOTA: u64 = 300 * 24;

/// A small deterministic generator (xorshift64*), so that two clients can
/// be given the same think times.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How a client thinks between a response and its next request.
#[derive(Clone, Copy)]
enum Think {
    /// Up to two seconds, uniformly, in nanoseconds.
    Short,
    /// As `Short`, and one time in a hundred a pause of up to ten minutes.
    WithPauses,
}

impl Think {
    fn draw(self, rng: &mut Rng) -> Duration {
        let short = Duration::from_nanos(rng.below(2_000_000_001));
        let pause = match self {
            Think::WithPauses if rng.below(100) == 0 => rng.below(601),
            _ => 0,
        };
        short + Duration::from_secs(pause)
    }
}

/// The server: the confirmed preset, one state for the whole account.
struct Server {
    policy: Policy<HeapSlots>,
    state: PolicyState<HeapSlots>,
}

/// A response's outcome and raw header values.
struct Response {
    allowed: bool,
    policy: String,
    rate_limit: String,
    retry_after: Option<String>,
}

impl Server {
    fn confirmed() -> Server {
        let policy = preset::confirmed::<HeapSlots>().unwrap();
        let state = policy.new_state();
        Server { policy, state }
    }

    /// Checks one request at `now` and writes the response's headers.
    fn handle(&mut self, now: Instant) -> Response {
        let decision = self.policy.check(&mut self.state, now, 1).unwrap();
        let headers = RateLimitHeaders::new(&self.policy, &decision);
        let mut response = Response {
            allowed: decision.is_allowed(),
            policy: String::new(),
            rate_limit: String::new(),
            retry_after: None,
        };
        headers
            .for_each(HeaderOptions::default(), |name, value| match name {
                "RateLimit-Policy" => response.policy = value.to_string(),
                "RateLimit" => response.rate_limit = value.to_string(),
                "Retry-After" => response.retry_after = Some(value.to_string()),
                other => panic!("unexpected field {other}"),
            })
            .unwrap();
        response
    }

    /// Units limit `index` has left at `now`.
    fn remaining(&self, index: usize, now: Instant) -> u32 {
        match self.policy.peek(&self.state, now, 0).unwrap() {
            PolicyDecision::Allowed(all) => all[index].remaining,
            PolicyDecision::Denied(_) => unreachable!("a cost of 0 is always allowed"),
        }
    }

    /// How long until the server would admit one more request.
    fn wait(&self, now: Instant) -> Duration {
        let decision = self.policy.peek(&self.state, now, 1).unwrap();
        decision.retry_after().unwrap_or(Duration::ZERO)
    }
}

/// A client under test: how it paces itself and what it learns.
trait Client {
    fn delay(&self, server: &Server, now: Instant) -> Duration;
    fn on_sent(&mut self, now: Instant);
    /// Returns the units a model was behind the server, if it keeps one.
    fn on_response(&mut self, now: Instant, response: &Response) -> u64;
    /// Checks what the client believes against the server, after an
    /// admitted request's response.
    fn audit(&self, _server: &Server, _now: Instant) {}
}

/// A [`Pacer`] that never sees a header: the policy alone paces it.
struct ModelOnly(Pacer<HeapSlots>);

impl Client for ModelOnly {
    fn delay(&self, _: &Server, now: Instant) -> Duration {
        self.0.delay(now)
    }
    fn on_sent(&mut self, now: Instant) {
        self.0.on_sent(now);
    }
    fn on_response(&mut self, now: Instant, _: &Response) -> u64 {
        self.0.on_response(now, None, None, None)
    }
}

/// A [`Pacer`] fed every response's headers.
struct ModelAndHeaders(Pacer<HeapSlots>);

impl Client for ModelAndHeaders {
    fn delay(&self, _: &Server, now: Instant) -> Duration {
        self.0.delay(now)
    }
    fn on_sent(&mut self, now: Instant) {
        self.0.on_sent(now);
    }
    fn on_response(&mut self, now: Instant, r: &Response) -> u64 {
        let policy = Some(r.policy.as_bytes());
        let retry = r.retry_after.as_deref().map(str::as_bytes);
        self.0
            .on_response(now, policy, Some(r.rate_limit.as_bytes()), retry)
    }
    fn audit(&self, server: &Server, now: Instant) {
        // Resynced: for every limit, the model leaves no more than the
        // server does.
        for (i, name) in ["hourly", "burst"].into_iter().enumerate() {
            let model = self.0.model_remaining(name, now).unwrap();
            let actual = server.remaining(i, now);
            assert!(model <= actual, "{name}: model {model}, server {actual}");
        }
    }
}

/// A [`Pacer`] paced by its model alone, whose model learns from the
/// `RateLimit` field until it first finds itself behind the server on an
/// admitted request, and never again.
struct LearnsOnce {
    pacer: Pacer<HeapSlots>,
    learnt: bool,
}

impl Client for LearnsOnce {
    fn delay(&self, _: &Server, now: Instant) -> Duration {
        self.pacer.delay(now)
    }
    fn on_sent(&mut self, now: Instant) {
        self.pacer.on_sent(now);
    }
    fn on_response(&mut self, now: Instant, r: &Response) -> u64 {
        if self.learnt {
            return 0;
        }
        let rate_limit = RateLimitField::parse(r.rate_limit.as_bytes());
        let behind = self.pacer.resync(now, &rate_limit);
        self.learnt = behind > 0 && r.allowed;
        behind
    }
}

/// A [`HeaderPacer`]: the headers alone pace it.
struct HeadersOnly(HeaderPacer);

impl Client for HeadersOnly {
    fn delay(&self, _: &Server, now: Instant) -> Duration {
        self.0.delay(now)
    }
    fn on_sent(&mut self, now: Instant) {
        self.0.on_sent(now);
    }
    fn on_response(&mut self, now: Instant, r: &Response) -> u64 {
        let policy = Some(r.policy.as_bytes());
        let retry = r.retry_after.as_deref().map(str::as_bytes);
        self.0
            .on_response(now, policy, Some(r.rate_limit.as_bytes()), retry);
        0
    }
}

/// The reference: asks the server's own limiter.
struct Oracle;

impl Client for Oracle {
    fn delay(&self, server: &Server, now: Instant) -> Duration {
        server.wait(now)
    }
    fn on_sent(&mut self, _: Instant) {}
    fn on_response(&mut self, _: Instant, _: &Response) -> u64 {
        0
    }
}

/// One of the client's requests, as the day went.
struct Sent {
    allowed: bool,
    /// Another client consumed quota since this client's previous response.
    after_interference: bool,
    /// Units the client's model was charged to catch up, from its response.
    behind: u64,
}

/// Another client sharing the account: at each `(time, count)` it sends
/// `count` requests at once; the server admits what fits.
struct Intruder {
    episodes: Vec<(Instant, u32)>,
    next: usize,
}

impl Intruder {
    fn none() -> Intruder {
        Intruder::at(Vec::new())
    }

    fn at(episodes: Vec<(Instant, u32)>) -> Intruder {
        Intruder { episodes, next: 0 }
    }

    /// `episodes` bursts at random times of the day, of 1 to 80 requests.
    fn random(rng: &mut Rng, episodes: usize) -> Intruder {
        let mut e: Vec<(Instant, u32)> = (0..episodes)
            .map(|_| {
                let at = Instant::from_nanos(rng.below(DAY.as_nanos() as u64));
                (at, 1 + rng.below(80) as u32)
            })
            .collect();
        e.sort();
        Intruder::at(e)
    }

    /// Plays every episode due by `now`; true if any consumed quota.
    fn act(&mut self, server: &mut Server, now: Instant) -> bool {
        let mut consumed = false;
        while let Some(&(at, count)) = self.episodes.get(self.next).filter(|(at, _)| *at <= now) {
            for _ in 0..count {
                consumed |= server.handle(at).allowed;
            }
            self.next += 1;
        }
        consumed
    }
}

/// Runs `client` against a fresh server for a day, with think times from
/// `seed`.
fn run_day(client: &mut dyn Client, other: &mut Intruder, think: Think, seed: u64) -> Vec<Sent> {
    let server = &mut Server::confirmed();
    let mut rng = Rng::new(seed);
    let end = Instant::ZERO.saturating_add(DAY);
    let mut now = Instant::ZERO;
    let mut sent = Vec::new();
    loop {
        now = now.saturating_add(client.delay(server, now));
        if now >= end {
            return sent;
        }
        let after_interference = other.act(server, now);
        client.on_sent(now);
        let response = server.handle(now);
        let behind = client.on_response(now, &response);
        if response.allowed {
            client.audit(server, now);
        }
        sent.push(Sent {
            allowed: response.allowed,
            after_interference,
            behind,
        });
        now = now.saturating_add(think.draw(&mut rng));
    }
}

fn admitted(day: &[Sent]) -> u64 {
    day.iter().filter(|s| s.allowed).count() as u64
}

fn refused(day: &[Sent]) -> usize {
    day.len() - admitted(day) as usize
}

/// The oracle's count for the same think times, computed once per
/// `(think, seed)` and shared between tests.
fn oracle(think: Think, seed: u64) -> u64 {
    static COUNTS: Mutex<Vec<(u8, u64, u64)>> = Mutex::new(Vec::new());
    let key = think as u8;
    let known = COUNTS
        .lock()
        .unwrap()
        .iter()
        .find(|c| (c.0, c.1) == (key, seed))
        .map(|c| c.2);
    if let Some(count) = known {
        return count;
    }
    let day = run_day(&mut Oracle, &mut Intruder::none(), think, seed);
    assert_eq!(refused(&day), 0, "the oracle is never refused");
    let count = admitted(&day);
    COUNTS.lock().unwrap().push((key, seed, count));
    count
}

fn confirmed_pacer() -> Pacer<HeapSlots> {
    Pacer::new(&preset::confirmed::<HeapSlots>().unwrap())
}

const SEEDS: [u64; 2] = [1, 2];

/// Runs a day alone for each seed and kind of think time, and checks that
/// the client made by `client` is never refused, gets at least 95% of the
/// oracle's count and, without pauses, every request the day allows (see
/// [`DAY_QUOTA`]). Returns each day with the oracle's count.
fn alone_all_day(label: &str, client: impl Fn() -> Box<dyn Client>) -> Vec<(Vec<Sent>, u64)> {
    let mut days = Vec::new();
    for seed in SEEDS {
        for think in [Think::Short, Think::WithPauses] {
            let day = run_day(&mut *client(), &mut Intruder::none(), think, seed);
            assert_eq!(refused(&day), 0, "{label}, seed {seed}");
            let (got, best) = (admitted(&day), oracle(think, seed));
            eprintln!("{label}, seed {seed}: {got} of the oracle's {best}");
            assert!(
                got * 100 >= best * 95,
                "{label}, seed {seed}: {got} of {best}"
            );
            if let Think::Short = think {
                assert_eq!(
                    got, DAY_QUOTA,
                    "{label}, seed {seed}: every request allowed"
                );
            }
            days.push((day, best));
        }
    }
    days
}

#[test]
fn a_client_paced_by_the_confirmed_policy_is_never_refused_and_gets_the_oracles_count() {
    let days = alone_all_day("model", || Box::new(ModelOnly(confirmed_pacer())));

    // The model is the server's own limiter: it is exactly as fast as the
    // oracle.
    for (day, best) in days {
        assert_eq!(admitted(&day), best);
    }
}

#[test]
fn a_pacer_fed_its_responses_is_never_refused_and_nearly_as_fast_as_the_oracle() {
    let days = alone_all_day("model and headers", || {
        Box::new(ModelAndHeaders(confirmed_pacer()))
    });
    for (day, _) in days {
        assert!(day.iter().all(|s| s.behind == 0), "nothing to resync");
    }
}

#[test]
fn a_client_paced_by_headers_alone_is_never_refused_and_nearly_as_fast_as_the_oracle() {
    alone_all_day("headers", || Box::new(HeadersOnly(HeaderPacer::new())));
}

#[test]
fn a_client_paced_by_headers_alone_is_refused_at_most_its_first_request() {
    // Someone used the whole burst window just before the client starts.
    for seed in SEEDS {
        let mut intruder = Intruder::at(vec![(Instant::ZERO, 60)]);
        let mut client = HeadersOnly(HeaderPacer::new());
        let day = run_day(&mut client, &mut intruder, Think::Short, seed);
        assert!(!day[0].allowed, "the first request goes blind");
        assert_eq!(refused(&day[1..]), 0, "seed {seed}");
    }
}

/// Checks that every refusal came right after the intruder consumed quota,
/// and returns the number of refusals.
fn refused_only_after_interference(day: &[Sent]) -> usize {
    for (i, s) in day.iter().enumerate() {
        assert!(
            s.allowed || s.after_interference,
            "request {i} refused with no interference since the previous response"
        );
    }
    refused(day)
}

#[test]
fn a_pacer_resyncs_when_another_client_shares_the_quota() {
    let mut resynced = 0;
    for seed in SEEDS {
        let mut intruder = Intruder::random(&mut Rng::new(seed + 100), 12);
        let mut client = ModelAndHeaders(confirmed_pacer());
        let day = run_day(&mut client, &mut intruder, Think::WithPauses, seed);
        let refusals = refused_only_after_interference(&day);
        assert!(refusals <= 12, "at most one refusal per episode");
        resynced += day.iter().filter(|s| s.behind > 0).count();
        eprintln!(
            "resync seed {seed}: {} admitted, {refusals} refused",
            admitted(&day)
        );
    }
    assert!(resynced > 0, "the intruder was noticed at least once");
}

#[test]
fn a_header_pacer_is_refused_only_right_after_another_client_consumed() {
    for seed in SEEDS {
        let mut intruder = Intruder::random(&mut Rng::new(seed + 100), 12);
        let mut client = HeadersOnly(HeaderPacer::new());
        let day = run_day(&mut client, &mut intruder, Think::WithPauses, seed);
        assert!(refused_only_after_interference(&day) <= 12);
    }
}

#[test]
fn without_headers_the_model_keeps_being_refused_after_another_client_consumed() {
    // The control for the resync tests: the same day, the model alone.
    let mut refusals = 0;
    let mut episodes = 0;
    for seed in SEEDS {
        let mut intruder = Intruder::random(&mut Rng::new(seed + 100), 12);
        let mut client = ModelOnly(confirmed_pacer());
        let day = run_day(&mut client, &mut intruder, Think::WithPauses, seed);
        refusals += refused(&day);
        episodes += 12;
    }
    eprintln!("model only with intruder: {refusals} refusals over {episodes} episodes");
    assert!(
        refusals > episodes,
        "{refusals} refusals, {episodes} episodes"
    );
}

#[test]
fn a_pacer_that_learnt_once_of_another_clients_use_is_never_refused_again() {
    // Another client spent 30 requests just before this one starts: the
    // first response shows both windows 30 short of what the model expects.
    // From then on the pacer reads no header, and its model alone keeps it
    // from every refusal for the rest of the day.
    for seed in SEEDS {
        let mut intruder = Intruder::at(vec![(Instant::ZERO, 30)]);
        let mut client = LearnsOnce {
            pacer: confirmed_pacer(),
            learnt: false,
        };
        let day = run_day(&mut client, &mut intruder, Think::Short, seed);
        assert_eq!(day[0].behind, 60, "30 in each window");
        assert!(client.learnt);
        assert_eq!(refused(&day), 0, "seed {seed}");
        // The other client's 30 count in the first hour only.
        let got = admitted(&day);
        eprintln!("learnt once seed {seed}: {got}");
        assert_eq!(got, DAY_QUOTA - 30, "seed {seed}");
    }
}

#[test]
fn a_pacer_that_never_learns_of_another_clients_use_is_refused() {
    // The control for the test above: the same start, no header read.
    let mut intruder = Intruder::at(vec![(Instant::ZERO, 30)]);
    let mut client = ModelOnly(confirmed_pacer());
    let day = run_day(&mut client, &mut intruder, Think::Short, 1);
    assert!(refused(&day) > 0);
}

/// One call made to a pacer, for the robustness property below.
#[derive(Clone, Debug)]
enum Op {
    Delay,
    Sent,
    Response(Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>),
    RetryAfter(u32),
}

fn field() -> impl proptest::strategy::Strategy<Value = Option<Vec<u8>>> {
    use proptest::prelude::*;
    let shaped = (
        proptest::sample::select(&["hourly", "burst", "x", "other"][..]),
        proptest::sample::select(&["r", "q", "t", "w"][..]),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(|(n, k, a, b)| format!("\"{n}\";{k}={};t={b}", a % 1_000_000).into_bytes());
    proptest::option::of(prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        shaped
    ])
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Op::Delay),
        Just(Op::Sent),
        (field(), field(), field()).prop_map(|(p, r, a)| Op::Response(p, r, a)),
        any::<u32>().prop_map(Op::RetryAfter),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn pacers_take_any_calls_at_any_times_and_honour_retry_after(
        ops in proptest::collection::vec((op(), proptest::prelude::any::<u64>()), 0..40),
    ) {
        let mut pacer = confirmed_pacer();
        let mut headers = HeaderPacer::new();
        for (op, nanos) in ops {
            // Times jump anywhere, backwards included.
            let now = Instant::from_nanos(nanos);
            match op {
                Op::Delay => {
                    let _ = (pacer.delay(now), headers.delay(now));
                }
                Op::Sent => {
                    pacer.on_sent(now);
                    headers.on_sent(now);
                }
                Op::Response(p, r, a) => {
                    let (p, r, a) = (p.as_deref(), r.as_deref(), a.as_deref());
                    pacer.on_response(now, p, r, a);
                    headers.on_response(now, p, r, a);
                }
                Op::RetryAfter(secs) => {
                    let value = secs.to_string();
                    pacer.on_response(now, None, None, Some(value.as_bytes()));
                    headers.on_response(now, None, None, Some(value.as_bytes()));
                    // Held from the latest time seen, never earlier than
                    // `now`: at least the delay (unless the end of time
                    // comes first).
                    let held = Duration::from_secs(u64::from(secs))
                        .min(Instant::MAX.saturating_duration_since(now));
                    proptest::prop_assert!(headers.delay(now) >= held);
                    proptest::prop_assert!(pacer.delay(now) >= held);
                }
            }
        }
    }
}
