//! "Consistent with one serial order": given what every concurrent client was answered, is
//! there an order of the same commands, run one at a time through a model of the domain
//! rules, that gives exactly those answers? A search over the model's few states.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

/// An answer as a client saw it: status and error code ("" on success).
pub type Outcome = (u16, String);

/// A state with the answers still to place: a dead end once searched.
type Visited<S, C> = HashSet<(S, Vec<((C, Outcome), usize)>)>;

/// Whether some serial order of `observed` (command, answer) pairs, run from `init` through
/// `step` (state, command) → (answer, next state), yields exactly those answers.
pub fn serializable<S, C>(
    init: S,
    observed: &[(C, Outcome)],
    step: impl Fn(&S, &C) -> (Outcome, S),
) -> bool
where
    S: Clone + Eq + Hash + Ord,
    C: Clone + Eq + Hash + Ord,
{
    let mut counts: BTreeMap<(C, Outcome), usize> = BTreeMap::new();
    for o in observed {
        *counts.entry(o.clone()).or_default() += 1;
    }
    let mut dead = HashSet::new();
    search(init, counts, &step, &mut dead)
}

fn search<S, C>(
    state: S,
    mut counts: BTreeMap<(C, Outcome), usize>,
    step: &impl Fn(&S, &C) -> (Outcome, S),
    dead: &mut Visited<S, C>,
) -> bool
where
    S: Clone + Eq + Hash + Ord,
    C: Clone + Eq + Hash + Ord,
{
    // Answers that leave the state as it is can all be placed here: take them greedily.
    counts.retain(|(cmd, out), _| {
        let (got, next) = step(&state, cmd);
        !(got == *out && next == state)
    });
    if counts.is_empty() {
        return true;
    }
    let key = (
        state.clone(),
        counts.clone().into_iter().collect::<Vec<_>>(),
    );
    if dead.contains(&key) {
        return false;
    }
    let candidates: Vec<(C, Outcome)> = counts.keys().cloned().collect();
    for (cmd, out) in candidates {
        let (got, next) = step(&state, &cmd);
        if got == out && next != state {
            let mut rest = counts.clone();
            let n = rest.get_mut(&(cmd.clone(), out.clone())).unwrap();
            *n -= 1;
            if *n == 0 {
                rest.remove(&(cmd, out));
            }
            if search(next, rest, step, dead) {
                return true;
            }
        }
    }
    dead.insert(key);
    false
}

#[test]
fn the_search_finds_an_order_and_refuses_an_impossible_set() {
    // A counter that may be taken once: "take" → 200 then 409.
    let step = |s: &bool, _c: &&str| {
        if *s {
            ((409, "Conflict".to_owned()), true)
        } else {
            ((200, String::new()), true)
        }
    };
    let ok = [
        ("take", (409, "Conflict".to_owned())),
        ("take", (200, String::new())),
    ];
    assert!(serializable(false, &ok, step));
    let twice = [
        ("take", (200, String::new())),
        ("take", (200, String::new())),
    ];
    assert!(!serializable(false, &twice, step));
}
