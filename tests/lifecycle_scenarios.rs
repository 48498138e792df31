//! One scenario per rule of the key lifecycle and of authorization requests
//! (DESIGN decisions 2, 3, 4, 6 and 7), each named after the rule.

use core::time::Duration;

use keyrate::credential::authorization::{
    ApproveError, Authorization, AuthorizationConfig, AuthorizationRequest, DecideError,
    ExpireError, PollAnswer, RequestId, RequestStatus, SLOW_DOWN_STEP, authorize,
};
use keyrate::credential::lifecycle::{
    Account, AlreadyConfirmed, CapReached, ConfirmedFrom, IssueError, KeyKind, KeyRecord,
    KeyStatus, Lifetimes, LifetimesError, RevokeError, live_pre_confirmation,
};
use keyrate::time::Instant;

const SEC: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const NANO: Duration = Duration::from_nanos(1);

/// An arbitrary, non-zero origin for each scenario.
const T0: Instant = Instant::from_secs(1_000_000);

fn at(d: Duration) -> Instant {
    T0.saturating_add(d)
}

fn just_before(t: Instant) -> Instant {
    t.checked_sub(NANO).expect("not the origin")
}

fn unconfirmed() -> Account {
    Account::new()
}

fn confirmed_at(t: Instant) -> Account {
    let mut account = Account::new();
    Lifetimes::DEFAULT
        .confirm(&mut account, [], t)
        .expect("a new account is unconfirmed");
    account
}

fn pre_key(lifetimes: &Lifetimes, keys: &[KeyRecord], now: Instant) -> KeyRecord {
    lifetimes
        .issue_pre_confirmation(&unconfirmed(), keys, now)
        .expect("under the cap")
}

fn open_request(now: Instant) -> AuthorizationRequest<&'static str> {
    open_request_for(now)
}

fn open_request_for<K>(now: Instant) -> AuthorizationRequest<K> {
    AuthorizationRequest::new(&AuthorizationConfig::DEFAULT, [0x5a; 32], now)
}

// ---- key lifecycle -------------------------------------------------------

#[test]
fn lifetimes_default_to_two_hours_twelve_hours_from_issue_and_five_live_keys() {
    let d = Lifetimes::default();
    assert_eq!(d.pre_confirmation(), 2 * HOUR);
    assert_eq!(d.confirmed(), 12 * HOUR);
    assert_eq!(d.confirmed_from(), ConfirmedFrom::Issue);
    assert_eq!(d.max_live_pre_confirmation(), 5);
}

#[test]
fn lifetimes_reject_a_confirmed_life_shorter_than_a_pre_confirmation_one() {
    let shorter = Lifetimes::new(2 * HOUR, HOUR, ConfirmedFrom::Issue, 5);
    assert_eq!(
        shorter,
        Err(LifetimesError::ConfirmedShorterThanPreConfirmation)
    );
    assert!(Lifetimes::new(2 * HOUR, 2 * HOUR, ConfirmedFrom::Issue, 5).is_ok());
}

#[test]
fn pre_confirmation_key_is_valid_for_two_hours_from_issue() {
    let key = pre_key(&Lifetimes::DEFAULT, &[], T0);
    assert_eq!(key.kind(), KeyKind::PreConfirmation);
    assert_eq!(key.issued_at(), T0);
    assert_eq!(key.expires_at(), Some(at(2 * HOUR)));
    assert!(key.is_valid(T0));
    assert!(key.is_valid(at(HOUR)));
    assert!(!key.is_valid(at(2 * HOUR)));
}

#[test]
fn expiry_is_half_open() {
    let pre = pre_key(&Lifetimes::DEFAULT, &[], T0);
    let session = Lifetimes::DEFAULT
        .issue_confirmed(&confirmed_at(T0), T0)
        .unwrap();
    for key in [pre, session] {
        let end = key.expires_at().unwrap();
        assert_eq!(
            key.status(just_before(end)),
            KeyStatus::Valid {
                kind: key.kind(),
                expires_at: Some(end)
            }
        );
        assert_eq!(
            key.status(end),
            KeyStatus::Expired {
                kind: key.kind(),
                expired_at: end
            }
        );
    }
}

#[test]
fn confirming_the_email_turns_every_live_pre_confirmation_key_into_a_confirmed_session() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = Vec::new();
    for minutes in [0, 10, 50] {
        let key = lifetimes
            .issue_pre_confirmation(&account, &keys, at(minutes * MINUTE))
            .unwrap();
        keys.push(key);
    }

    let upgraded = lifetimes
        .confirm(&mut account, &mut keys, at(HOUR))
        .unwrap();
    assert_eq!(upgraded, 3);
    assert_eq!(account.confirmed_at(), Some(at(HOUR)));
    for key in &keys {
        assert_eq!(key.kind(), KeyKind::Confirmed);
        assert_eq!(
            key.expires_at(),
            Some(key.issued_at().saturating_add(12 * HOUR))
        );
    }
}

#[test]
fn confirmed_session_lives_twelve_hours_from_issue_by_default() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];
    lifetimes
        .confirm(&mut account, &mut keys, at(90 * MINUTE))
        .unwrap();
    assert!(keys[0].is_valid(just_before(at(12 * HOUR))));
    assert!(!keys[0].is_valid(at(12 * HOUR)));

    // A key issued as a confirmed session also counts from its issue.
    let direct = lifetimes.issue_confirmed(&account, at(3 * HOUR)).unwrap();
    assert_eq!(direct.expires_at(), Some(at(15 * HOUR)));
}

#[test]
fn confirmed_session_can_live_twelve_hours_from_confirmation_instead() {
    let lifetimes = Lifetimes::new(2 * HOUR, 12 * HOUR, ConfirmedFrom::Confirmation, 5).unwrap();
    let mut account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];
    lifetimes
        .confirm(&mut account, &mut keys, at(90 * MINUTE))
        .unwrap();
    assert_eq!(keys[0].expires_at(), Some(at(90 * MINUTE + 12 * HOUR)));
    assert!(keys[0].is_valid(at(12 * HOUR)));
}

#[test]
fn confirmation_after_expiry_does_not_revive_the_key() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];
    let before = keys;

    // Confirmed exactly when the key expires (half-open: already expired).
    let upgraded = lifetimes
        .confirm(&mut account, &mut keys, at(2 * HOUR))
        .unwrap();
    assert_eq!(upgraded, 0);
    assert_eq!(keys, before);
    assert!(account.is_confirmed());
    assert!(matches!(
        keys[0].status(at(2 * HOUR)),
        KeyStatus::Expired { .. }
    ));
    assert!(!keys[0].is_valid(at(3 * HOUR)));
}

#[test]
fn confirmation_never_shortens_a_lifetime() {
    // Equal lifetimes are the edge: confirming must not move expiry earlier.
    for from in [ConfirmedFrom::Issue, ConfirmedFrom::Confirmation] {
        let lifetimes = Lifetimes::new(2 * HOUR, 2 * HOUR, from, 5).unwrap();
        for confirm_after in [Duration::ZERO, SEC, HOUR, 2 * HOUR - NANO] {
            let mut account = unconfirmed();
            let mut keys = [pre_key(&lifetimes, &[], T0)];
            let before = keys[0].expires_at().unwrap();
            lifetimes
                .confirm(&mut account, &mut keys, at(confirm_after))
                .unwrap();
            let after = keys[0].expires_at().unwrap();
            assert!(after >= before, "{from:?} at {confirm_after:?}");
        }
    }
}

#[test]
fn a_key_never_outlives_the_cap_of_its_kind() {
    let lifetimes = Lifetimes::DEFAULT;
    let account = confirmed_at(T0);

    // Issued directly: expired exactly at issue + cap.
    let session = lifetimes.issue_confirmed(&account, at(HOUR)).unwrap();
    assert!(!session.is_valid(at(13 * HOUR)));

    // Upgraded: expired at issue + 12 h, however late the confirmation came.
    let mut upgraded_account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];
    lifetimes
        .confirm(&mut upgraded_account, &mut keys, just_before(at(2 * HOUR)))
        .unwrap();
    assert!(!keys[0].is_valid(at(12 * HOUR)));

    // Never confirmed: expired at issue + 2 h.
    let pre = pre_key(&lifetimes, &[], T0);
    assert!(!pre.is_valid(at(2 * HOUR)));
}

#[test]
fn a_session_key_never_becomes_permanent() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];
    lifetimes.confirm(&mut account, &mut keys, at(SEC)).unwrap();
    assert_eq!(keys[0].kind(), KeyKind::Confirmed);

    // A permanent key is a new key; the session key keeps its expiry.
    let session_before = keys[0];
    let permanent = lifetimes.issue_permanent(&account, at(2 * SEC)).unwrap();
    assert_eq!(keys[0], session_before);
    assert_eq!(permanent.kind(), KeyKind::Permanent);
    assert!(!keys[0].is_valid(at(12 * HOUR)));
    assert!(permanent.is_valid(at(12 * HOUR)));
}

#[test]
fn permanent_keys_never_expire() {
    let key = Lifetimes::DEFAULT
        .issue_permanent(&confirmed_at(T0), T0)
        .unwrap();
    assert_eq!(key.expires_at(), None);
    for now in [T0, at(100 * 365 * 24 * HOUR), Instant::MAX] {
        assert_eq!(
            key.status(now),
            KeyStatus::Valid {
                kind: KeyKind::Permanent,
                expires_at: None
            }
        );
    }
}

#[test]
fn revocation_is_final() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];
    keys[0].revoke(at(MINUTE)).unwrap();

    // Confirmation leaves a revoked key revoked, as does any later time.
    assert_eq!(
        lifetimes
            .confirm(&mut account, &mut keys, at(2 * MINUTE))
            .unwrap(),
        0
    );
    for now in [T0, at(2 * MINUTE), at(HOUR), Instant::MAX] {
        assert_eq!(
            keys[0].status(now),
            KeyStatus::Revoked {
                kind: KeyKind::PreConfirmation,
                revoked_at: at(MINUTE)
            }
        );
    }

    let mut permanent = lifetimes.issue_permanent(&account, T0).unwrap();
    permanent.revoke(at(SEC)).unwrap();
    assert!(!permanent.is_valid(Instant::MAX));
}

#[test]
fn issuing_a_key_never_revokes_or_changes_another() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = vec![pre_key(&lifetimes, &[], T0)];
    let pre = lifetimes
        .issue_pre_confirmation(&account, &keys, at(SEC))
        .unwrap();
    keys.push(pre);
    lifetimes
        .confirm(&mut account, &mut keys, at(2 * SEC))
        .unwrap();

    let before = keys.clone();
    let permanent = lifetimes.issue_permanent(&account, at(3 * SEC)).unwrap();
    let session = lifetimes.issue_confirmed(&account, at(4 * SEC)).unwrap();
    assert_eq!(keys, before);
    for key in keys.iter().chain([&permanent, &session]) {
        assert!(key.is_valid(at(5 * SEC)));
    }
}

#[test]
fn live_pre_confirmation_keys_per_account_are_capped_at_five_by_default() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut keys = Vec::new();
    for i in 0..5 {
        keys.push(pre_key(&lifetimes, &keys, at(i * SEC)));
    }
    let sixth = lifetimes.issue_pre_confirmation(&unconfirmed(), &keys, at(5 * SEC));
    assert_eq!(sixth, Err(IssueError::CapReached(CapReached { cap: 5 })));
}

#[test]
fn the_pre_confirmation_cap_is_configurable() {
    let lifetimes = Lifetimes::new(2 * HOUR, 12 * HOUR, ConfirmedFrom::Issue, 2).unwrap();
    let first = pre_key(&lifetimes, &[], T0);
    let second = pre_key(&lifetimes, &[first], T0);
    let third = lifetimes.issue_pre_confirmation(&unconfirmed(), [&first, &second], T0);
    assert_eq!(third, Err(IssueError::CapReached(CapReached { cap: 2 })));
}

#[test]
fn an_expired_or_revoked_pre_confirmation_key_frees_a_slot() {
    let lifetimes = Lifetimes::new(2 * HOUR, 12 * HOUR, ConfirmedFrom::Issue, 2).unwrap();
    let early = pre_key(&lifetimes, &[], T0);
    let mut late = pre_key(&lifetimes, &[early], at(HOUR));
    let keys = [early, late];
    assert_eq!(live_pre_confirmation(&keys, at(HOUR)), 2);

    // The first expires at 2 h: a slot is free from then on, not before.
    assert!(
        lifetimes
            .issue_pre_confirmation(&unconfirmed(), &keys, just_before(at(2 * HOUR)))
            .is_err()
    );
    assert!(
        lifetimes
            .issue_pre_confirmation(&unconfirmed(), &keys, at(2 * HOUR))
            .is_ok()
    );

    // Revoking the second frees another.
    late.revoke(at(HOUR + SEC)).unwrap();
    assert_eq!(live_pre_confirmation([&early, &late], at(HOUR + SEC)), 1);
}

#[test]
fn an_event_that_does_not_apply_is_a_typed_error_and_changes_nothing() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut account = unconfirmed();
    let mut keys = [pre_key(&lifetimes, &[], T0)];

    // Issuing a kind the account cannot have.
    assert_eq!(
        lifetimes.issue_confirmed(&account, T0),
        Err(IssueError::AccountUnconfirmed)
    );
    assert_eq!(
        lifetimes.issue_permanent(&account, T0),
        Err(IssueError::AccountUnconfirmed)
    );

    // Confirming twice: neither the account nor any key changes.
    lifetimes.confirm(&mut account, &mut keys, at(SEC)).unwrap();
    let (account_before, keys_before) = (account, keys);
    assert_eq!(
        lifetimes.confirm(&mut account, &mut keys, at(2 * SEC)),
        Err(AlreadyConfirmed)
    );
    assert_eq!((account, keys), (account_before, keys_before));
    assert_eq!(
        lifetimes.issue_pre_confirmation(&account, &keys, at(3 * SEC)),
        Err(IssueError::AccountConfirmed)
    );

    // Revoking twice, or revoking an expired key.
    let mut revoked = keys[0];
    revoked.revoke(at(4 * SEC)).unwrap();
    let snapshot = revoked;
    assert_eq!(
        revoked.revoke(at(5 * SEC)),
        Err(RevokeError::AlreadyRevoked)
    );
    assert_eq!(revoked, snapshot);
    let mut expired = keys[0];
    assert_eq!(expired.revoke(at(12 * HOUR)), Err(RevokeError::Expired));
    assert_eq!(expired, keys[0]);
}

#[test]
fn status_tells_which_kind_to_choose_limits_by() {
    let lifetimes = Lifetimes::DEFAULT;
    let pre = pre_key(&lifetimes, &[], T0);
    let account = confirmed_at(T0);
    let session = lifetimes.issue_confirmed(&account, T0).unwrap();
    let permanent = lifetimes.issue_permanent(&account, T0).unwrap();
    let now = at(MINUTE);
    assert_eq!(pre.status(now).valid_kind(), Some(KeyKind::PreConfirmation));
    assert_eq!(session.status(now).valid_kind(), Some(KeyKind::Confirmed));
    assert_eq!(permanent.status(now).valid_kind(), Some(KeyKind::Permanent));
    assert_eq!(pre.status(at(3 * HOUR)).valid_kind(), None);
}

#[cfg(feature = "serde")]
#[test]
fn lifetimes_load_through_serde_with_validation_and_defaults() {
    use serde::Deserialize;
    use serde::de::value::{Error, MapDeserializer};

    let load = |cap: u32| {
        let fields =
            MapDeserializer::<_, Error>::new([("max_live_pre_confirmation", cap)].into_iter());
        Lifetimes::deserialize(fields)
    };
    let three = load(3).unwrap();
    assert_eq!(three.max_live_pre_confirmation(), 3);
    assert_eq!(three.pre_confirmation(), 2 * HOUR);
    assert!(load(0).is_err());
}

// ---- authorization requests ----------------------------------------------

#[test]
fn unknown_email_gets_a_pre_confirmation_key_now() {
    let answer = authorize::<(), _>(
        &Lifetimes::DEFAULT,
        &AuthorizationConfig::DEFAULT,
        None,
        [],
        [1; 32],
        T0,
    );
    let Ok(Authorization::PreConfirmationKey(key)) = answer else {
        panic!("expected a key, got {answer:?}");
    };
    assert_eq!(key.status(T0).valid_kind(), Some(KeyKind::PreConfirmation));
    assert_eq!(key.issued_at(), T0);
}

#[test]
fn unconfirmed_email_gets_another_pre_confirmation_key() {
    let lifetimes = Lifetimes::DEFAULT;
    let account = unconfirmed();
    let first = pre_key(&lifetimes, &[], T0);
    let answer = authorize::<(), _>(
        &lifetimes,
        &AuthorizationConfig::DEFAULT,
        Some(&account),
        [&first],
        [1; 32],
        at(MINUTE),
    );
    let Ok(Authorization::PreConfirmationKey(second)) = answer else {
        panic!("expected a key, got {answer:?}");
    };
    assert_eq!(second.issued_at(), at(MINUTE));
    assert!(first.is_valid(at(MINUTE)) && second.is_valid(at(MINUTE)));
}

#[test]
fn authorize_refuses_when_the_live_pre_confirmation_cap_is_reached() {
    let lifetimes = Lifetimes::DEFAULT;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(pre_key(&lifetimes, &keys, T0));
    }
    let answer = authorize::<(), _>(
        &lifetimes,
        &AuthorizationConfig::DEFAULT,
        Some(&unconfirmed()),
        &keys,
        [1; 32],
        at(SEC),
    );
    assert_eq!(answer, Err(CapReached { cap: 5 }));
}

#[test]
fn confirmed_user_gets_an_authorization_request_instead_of_a_key() {
    let account = confirmed_at(T0);
    let answer = authorize::<(), _>(
        &Lifetimes::DEFAULT,
        &AuthorizationConfig::DEFAULT,
        Some(&account),
        [],
        [1; 32],
        at(SEC),
    );
    let Ok(Authorization::Request(request)) = answer else {
        panic!("expected a request, got {answer:?}");
    };
    assert_eq!(request.created_at(), at(SEC));
    assert_eq!(request.status(at(SEC)), RequestStatus::Pending);
}

#[test]
fn authorization_request_expires_after_ten_minutes_and_is_polled_every_five_seconds() {
    let request = open_request(T0);
    assert_eq!(request.expires_at(), at(10 * MINUTE));
    assert_eq!(request.interval(), 5 * SEC);

    let config = AuthorizationConfig::new(MINUTE, 2 * SEC).unwrap();
    let custom: AuthorizationRequest<()> = AuthorizationRequest::new(&config, [0; 32], T0);
    assert_eq!(custom.expires_at(), at(MINUTE));
    assert_eq!(custom.interval(), 2 * SEC);
}

#[test]
fn request_ids_come_from_the_callers_entropy_and_debug_shows_only_a_prefix() {
    let mut entropy = [0u8; 32];
    entropy[..16].fill(0xc3);
    entropy[16..].fill(0x7e);
    let request: AuthorizationRequest<()> =
        AuthorizationRequest::new(&AuthorizationConfig::DEFAULT, entropy, T0);
    assert_eq!(request.poll_id(), &RequestId::from_bytes([0xc3; 16]));
    assert_eq!(request.approval_id(), &RequestId::from_bytes([0x7e; 16]));
    assert_ne!(request.poll_id(), request.approval_id());

    let debug = format!("{request:?}");
    assert!(debug.contains("RequestId(c3c3…)"), "{debug}");
    assert!(!debug.contains("c3c3c3"), "{debug}");
    assert!(!debug.contains("7e7e7e"), "{debug}");
}

#[test]
fn poll_answers_pending_until_the_user_decides() {
    let mut request = open_request(T0);
    for secs in [0, 5, 10, 60, 595] {
        assert_eq!(request.poll(at(secs * SEC)), PollAnswer::Pending);
    }
    assert_eq!(request.status(at(596 * SEC)), RequestStatus::Pending);
}

#[test]
fn first_poll_is_never_throttled() {
    // Polled the instant the request opens, and in a second request the
    // instant after the user approved.
    let mut request = open_request(T0);
    assert_eq!(request.poll(T0), PollAnswer::Pending);

    let mut approved = open_request(T0);
    approved.approve("key", T0).unwrap();
    assert_eq!(approved.poll(T0), PollAnswer::Issued("key"));
}

#[test]
fn polling_sooner_than_the_interval_answers_slow_down() {
    let mut request = open_request(T0);
    request.poll(T0);
    let answer = request.poll(just_before(at(5 * SEC)));
    assert_eq!(answer, PollAnswer::SlowDown { interval: 10 * SEC });

    // Exactly one interval after the previous poll is soon enough.
    let mut patient = open_request(T0);
    patient.poll(T0);
    assert_eq!(patient.poll(at(5 * SEC)), PollAnswer::Pending);
}

#[test]
fn slow_down_raises_the_interval_by_five_seconds_for_good() {
    let mut request = open_request(T0);
    request.poll(T0);
    assert_eq!(
        request.poll(at(SEC)),
        PollAnswer::SlowDown { interval: 10 * SEC }
    );
    assert_eq!(request.interval(), 5 * SEC + SLOW_DOWN_STEP);

    // 5 s after the last poll is now too soon; 10 s is not, and the interval
    // stays raised afterwards.
    assert_eq!(
        request.poll(at(6 * SEC)),
        PollAnswer::SlowDown { interval: 15 * SEC }
    );
    assert_eq!(request.poll(at(21 * SEC)), PollAnswer::Pending);
    assert!(matches!(
        request.poll(at(35 * SEC)),
        PollAnswer::SlowDown { .. }
    ));
    assert_eq!(request.interval(), 20 * SEC);
}

#[test]
fn approving_twice_is_a_typed_error() {
    let mut request = open_request(T0);
    request.approve("first", at(SEC)).unwrap();
    let before = request.clone();
    assert_eq!(
        request.approve("second", at(2 * SEC)),
        Err(ApproveError {
            reason: DecideError::AlreadyApproved,
            key: "second"
        })
    );
    assert_eq!(request, before);
    assert_eq!(request.poll(at(3 * SEC)), PollAnswer::Issued("first"));

    // Still an error after delivery.
    assert!(request.approve("third", at(4 * SEC)).is_err());
}

#[test]
fn denying_after_a_decision_is_a_typed_error() {
    let mut denied = open_request(T0);
    denied.deny(at(SEC)).unwrap();
    let before = denied.clone();
    assert_eq!(denied.deny(at(2 * SEC)), Err(DecideError::AlreadyDenied));
    assert_eq!(
        denied.approve("key", at(2 * SEC)).map_err(|e| e.reason),
        Err(DecideError::AlreadyDenied)
    );
    assert_eq!(denied, before);

    let mut approved = open_request(T0);
    approved.approve("key", at(SEC)).unwrap();
    assert_eq!(
        approved.deny(at(2 * SEC)),
        Err(DecideError::AlreadyApproved)
    );
    assert_eq!(approved.poll(at(3 * SEC)), PollAnswer::Issued("key"));
}

#[test]
fn deciding_after_expiry_is_a_typed_error_and_hands_the_key_back() {
    let mut request = open_request(T0);
    let end = request.expires_at();
    let before = request.clone();
    assert_eq!(request.decidable(end), Err(DecideError::Expired));
    assert_eq!(
        request.approve("late", end),
        Err(ApproveError {
            reason: DecideError::Expired,
            key: "late"
        })
    );
    assert_eq!(request.deny(end), Err(DecideError::Expired));
    assert_eq!(request, before);

    // One nanosecond earlier the request is still live.
    assert_eq!(request.approve("in time", just_before(end)), Ok(()));
}

#[test]
fn poll_after_denial_answers_access_denied() {
    let mut request = open_request(T0);
    request.poll(T0);
    request.deny(at(SEC)).unwrap();
    for secs in [2, 10, 100] {
        let answer = request.poll(at(secs * SEC));
        assert_eq!(answer, PollAnswer::Denied);
        assert_eq!(answer.error_code(), Some("access_denied"));
    }
}

#[test]
fn request_expiry_is_half_open() {
    let mut request = open_request(T0);
    let end = request.expires_at();
    assert_eq!(request.poll(just_before(end)), PollAnswer::Pending);
    assert_eq!(request.status(end), RequestStatus::Expired);
    let answer = request.poll(end);
    assert_eq!(answer, PollAnswer::Expired { revoke: None });
    assert_eq!(answer.error_code(), Some("expired_token"));
}

#[test]
fn key_is_delivered_exactly_once_and_later_polls_answer_invalid_grant() {
    let mut request = open_request(T0);
    request.approve("key", at(SEC)).unwrap();
    assert_eq!(request.poll(at(2 * SEC)), PollAnswer::Issued("key"));
    assert_eq!(request.status(at(2 * SEC)), RequestStatus::Delivered);

    // Every later poll, too soon or after expiry, is the same final answer.
    for secs in [2, 3, 60, 600, 100_000] {
        let answer = request.poll(at(secs * SEC));
        assert_eq!(answer, PollAnswer::AlreadyDelivered);
        assert_eq!(answer.error_code(), Some("invalid_grant"));
    }
}

#[test]
fn approved_key_not_picked_up_before_expiry_is_handed_back_for_revocation_once() {
    let mut request = open_request(T0);
    request.approve("orphan", at(SEC)).unwrap();
    let end = request.expires_at();
    assert_eq!(
        request.poll(end),
        PollAnswer::Expired {
            revoke: Some("orphan")
        }
    );
    assert_eq!(
        request.poll(at(11 * MINUTE)),
        PollAnswer::Expired { revoke: None }
    );
    assert_eq!(
        request.expire(at(12 * MINUTE)),
        Err(ExpireError::AlreadyEnded)
    );
}

#[test]
fn expire_hands_back_an_undelivered_key_once_when_no_one_polls() {
    let mut request = open_request(T0);
    request.approve("orphan", at(SEC)).unwrap();
    let end = request.expires_at();
    assert_eq!(
        request.expire(just_before(end)),
        Err(ExpireError::NotYetExpired)
    );
    assert_eq!(request.expire(end), Ok(Some("orphan")));
    assert_eq!(request.expire(end), Err(ExpireError::AlreadyEnded));
    assert_eq!(request.poll(end), PollAnswer::Expired { revoke: None });
}

#[test]
fn a_delivered_or_never_approved_key_is_never_handed_back_for_revocation() {
    let mut delivered = open_request(T0);
    delivered.approve("key", at(SEC)).unwrap();
    delivered.poll(at(SEC));
    assert_eq!(delivered.expire(at(HOUR)), Err(ExpireError::AlreadyEnded));
    assert_eq!(delivered.poll(at(HOUR)), PollAnswer::AlreadyDelivered);

    let mut denied = open_request(T0);
    denied.deny(at(SEC)).unwrap();
    assert_eq!(denied.expire(at(HOUR)), Ok(None));

    let mut pending = open_request(T0);
    assert_eq!(pending.poll(at(HOUR)), PollAnswer::Expired { revoke: None });
}

#[test]
fn each_poll_answer_maps_to_its_rfc_8628_error_code() {
    let codes = [
        (PollAnswer::Pending, Some("authorization_pending")),
        (PollAnswer::SlowDown { interval: SEC }, Some("slow_down")),
        (PollAnswer::Denied, Some("access_denied")),
        (PollAnswer::Expired { revoke: None }, Some("expired_token")),
        (
            PollAnswer::Expired { revoke: Some(1) },
            Some("expired_token"),
        ),
        (PollAnswer::AlreadyDelivered, Some("invalid_grant")),
        (PollAnswer::Issued(1), None),
    ];
    for (answer, code) in codes {
        assert_eq!(answer.error_code(), code, "{answer:?}");
        assert_eq!(
            answer.is_final(),
            !matches!(code, Some("authorization_pending" | "slow_down"))
        );
    }
}

#[test]
fn a_confirmed_user_gets_a_working_confirmed_session_key_through_a_request() {
    let lifetimes = Lifetimes::DEFAULT;
    let account = confirmed_at(T0);
    let Ok(Authorization::Request(mut request)) = authorize::<KeyRecord, _>(
        &lifetimes,
        &AuthorizationConfig::DEFAULT,
        Some(&account),
        [],
        [2; 32],
        T0,
    ) else {
        panic!("a confirmed user gets a request");
    };

    // The user approves after a minute; the key is minted only once the
    // request is known to be decidable.
    let now = at(MINUTE);
    request.decidable(now).unwrap();
    let key = lifetimes.issue_confirmed(&account, now).unwrap();
    request.approve(key, now).unwrap();
    let PollAnswer::Issued(delivered) = request.poll(at(MINUTE + SEC)) else {
        panic!("the approved key is delivered");
    };
    assert_eq!(
        delivered.status(at(MINUTE + SEC)).valid_kind(),
        Some(KeyKind::Confirmed)
    );
    assert_eq!(delivered.expires_at(), Some(at(MINUTE + 12 * HOUR)));
}

#[test]
fn an_approved_key_handed_back_at_expiry_can_be_revoked() {
    let lifetimes = Lifetimes::DEFAULT;
    let account = confirmed_at(T0);
    let mut request: AuthorizationRequest<KeyRecord> = open_request_for(T0);
    let key = lifetimes.issue_confirmed(&account, at(SEC)).unwrap();
    request.approve(key, at(SEC)).unwrap();

    let PollAnswer::Expired {
        revoke: Some(mut orphan),
    } = request.poll(at(10 * MINUTE))
    else {
        panic!("the orphaned key is handed back");
    };
    orphan.revoke(at(10 * MINUTE)).unwrap();
    assert!(!orphan.is_valid(at(10 * MINUTE)));
}
