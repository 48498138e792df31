//! Snapshot decoding and restoring: any text either fails with a typed error
//! (a TOML error or a `SnapshotError`) or restores into a state that checks
//! without panicking.
//!
//! The text is read as a limit snapshot, a policy snapshot and a table
//! snapshot. Each is restored into limits built from the parameters it
//! records (so that restores can succeed) and into fixed limits of every
//! kind (so that mismatches are exercised), at a few epochs.
#![no_main]

use core::time::Duration;

use keyrate::keyed::{FixedTable, GrowableTable};
use keyrate::limit::{
    AnyLimit, CompactWindow, FixedWindow, HeapSlots, Limit, Policy, SlidingWindow, TokenBucket,
};
use keyrate::snapshot::{
    Epoch, LimitSnapshot, PolicySnapshot, Restorable, Snapshot, TableSnapshot,
};
use keyrate::time::Instant;
use libfuzzer_sys::fuzz_target;

/// Sliding windows above this quota allocate too much per restore to fuzz
/// quickly (8 bytes per unit of quota).
const MAX_FUZZ_QUOTA: u32 = 4096;

/// Epochs to restore at: both origins, a wall clock behind and ahead of
/// any snapshot, and the end of time.
const EPOCHS: [(u64, u64); 4] = [
    (0, 0),
    (1_000_000_000, 1_700_000_000_000_000_000),
    (u64::MAX / 2, u64::MAX / 2),
    (u64::MAX, u64::MAX),
];

/// Times to check a restored state at.
const PROBES: [u64; 5] = [0, 1, 1_000_000_000, u64::MAX / 2, u64::MAX];

fuzz_target!(|text: &str| {
    if let Ok(snapshot) = toml::from_str::<Snapshot<LimitSnapshot>>(text) {
        match limit_of(snapshot.state()) {
            Some(AnyLimit::Compact(l)) => restore_and_check(&l, &snapshot),
            Some(AnyLimit::Bucket(l)) => restore_and_check(&l, &snapshot),
            Some(AnyLimit::Fixed(l)) => restore_and_check(&l, &snapshot),
            _ => {}
        }
        let (_, compact, bucket, fixed) = ordinary_limits();
        restore_and_check(&compact, &snapshot);
        restore_and_check(&bucket, &snapshot);
        restore_and_check(&fixed, &snapshot);
    }
    if let Ok(snapshot) = toml::from_str::<Snapshot<LimitSnapshot<HeapSlots>>>(text) {
        if let Some(AnyLimit::Sliding(l)) = limit_of(snapshot.state()) {
            restore_and_check(&l, &snapshot);
        }
        restore_and_check(&ordinary_limits().0, &snapshot);
    }
    if let Ok(snapshot) = toml::from_str::<Snapshot<PolicySnapshot<HeapSlots>>>(text) {
        policy_snapshot(&snapshot);
    }
    if let Ok(snapshot) = toml::from_str::<TableSnapshot<u64, LimitSnapshot>>(text) {
        table_snapshot(&snapshot);
    }
    if let Ok(snapshot) = toml::from_str::<TableSnapshot<u64, LimitSnapshot<HeapSlots>>>(text) {
        sliding_table_snapshot(&snapshot);
    }
});

fn epoch((now, wall): (u64, u64)) -> Epoch {
    Epoch::new(Instant::from_nanos(now), wall)
}

/// One limit of each kind, with ordinary parameters: snapshots of other
/// parameters or kinds must be refused with a typed error.
fn ordinary_limits() -> (
    SlidingWindow<HeapSlots>,
    CompactWindow,
    TokenBucket,
    FixedWindow,
) {
    let second = Duration::from_secs(1);
    (
        SlidingWindow::new(3, second).expect("valid"),
        CompactWindow::new(3, second).expect("valid"),
        TokenBucket::new(3, second).expect("valid"),
        FixedWindow::new(3, second).expect("valid"),
    )
}

/// The limit a limit snapshot records, if its parameters are valid.
fn limit_of<S>(snapshot: &LimitSnapshot<S>) -> Option<AnyLimit<HeapSlots>>
where
    S: AsRef<[u64]>,
{
    let limit: AnyLimit<HeapSlots> = match snapshot {
        LimitSnapshot::Sliding(s) if s.quota() <= MAX_FUZZ_QUOTA => {
            SlidingWindow::new(s.quota(), s.window()).ok()?.into()
        }
        LimitSnapshot::Sliding(_) => return None,
        LimitSnapshot::Compact(s) => CompactWindow::new(s.quota(), s.window()).ok()?.into(),
        LimitSnapshot::Bucket(s) => TokenBucket::new(s.burst(), s.period()).ok()?.into(),
        LimitSnapshot::Fixed(s) => FixedWindow::new(s.quota(), s.window()).ok()?.into(),
    };
    Some(limit)
}

/// Restores `snapshot` into `limit` at every epoch and checks the result.
fn restore_and_check<L>(limit: &L, snapshot: &Snapshot<L::Snapshot>)
where
    L: Limit + Restorable<State = <L as Limit>::State>,
{
    for at in EPOCHS {
        match limit.restore(snapshot, epoch(at)) {
            Ok(mut state) => {
                for t in PROBES {
                    let t = Instant::from_nanos(t);
                    let _ = Limit::check(limit, &mut state, t, 1);
                    let _ = Limit::check(limit, &mut state, t, limit.capacity());
                    let _ = Limit::is_idle(limit, &state, t);
                }

                // A restored state snapshots and restores again.
                let again = limit.snapshot(&state, epoch(at));
                if limit.restore(&again, epoch(at)).is_err() {
                    panic!("a snapshot of a restored state does not restore");
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

fn policy_snapshot(snapshot: &Snapshot<PolicySnapshot<HeapSlots>>) {
    let mut policy = Policy::<HeapSlots>::new();
    let limits = snapshot
        .state()
        .names()
        .zip((0..).map_while(|i| snapshot.state().get(i)));
    for (name, limit) in limits {
        let Some(limit) = limit_of(limit) else {
            return;
        };
        if policy.push(name, limit).is_err() {
            return;
        }
    }
    for at in EPOCHS {
        match policy.restore(snapshot, epoch(at)) {
            Ok(mut state) => {
                for t in PROBES {
                    let t = Instant::from_nanos(t);
                    let _ = policy.check(&mut state, t, 1);
                    let _ = policy.check(&mut state, t, policy.capacity());
                }
                let again = policy.snapshot(&state, epoch(at));
                if policy.restore(&again, epoch(at)).is_err() {
                    panic!("a snapshot of a restored policy state does not restore");
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// Restores a table snapshot into tables of the limit its first entry
/// records.
fn table_snapshot(snapshot: &TableSnapshot<u64, LimitSnapshot>) {
    let Some((_, first)) = snapshot.iter().next() else {
        return;
    };
    match limit_of(first) {
        Some(AnyLimit::Compact(l)) => tables(l, snapshot),
        Some(AnyLimit::Bucket(l)) => tables(l, snapshot),
        Some(AnyLimit::Fixed(l)) => tables(l, snapshot),
        _ => {}
    }
}

fn sliding_table_snapshot(snapshot: &TableSnapshot<u64, LimitSnapshot<HeapSlots>>) {
    let Some((_, first)) = snapshot.iter().next() else {
        return;
    };
    if let Some(AnyLimit::Sliding(l)) = limit_of(first) {
        tables(l, snapshot);
    }
}

fn tables<L>(limit: L, snapshot: &TableSnapshot<u64, L::Snapshot>)
where
    L: Limit + Restorable<State = <L as Limit>::State> + Clone,
{
    for at in EPOCHS {
        let mut fixed: FixedTable<u64, L, 16> = FixedTable::new(limit.clone());
        if fixed.restore(snapshot, epoch(at)).is_ok() {
            for (key, _) in snapshot.iter() {
                for t in PROBES {
                    let _ = fixed.check(key, Instant::from_nanos(t), 1);
                }
            }
        } else if !fixed.is_empty() {
            panic!("a refused restore left keys in the table");
        }

        let mut growable = GrowableTable::new(limit.clone()).with_max_len(64);
        if growable.restore(snapshot, epoch(at)).is_ok() {
            for (key, _) in snapshot.iter() {
                let _ = growable.check(key, Instant::from_nanos(u64::MAX), 1);
            }
            let _ = growable.sweep(Instant::MAX);
        } else if !growable.is_empty() {
            panic!("a refused restore left keys in the table");
        }
    }
}
