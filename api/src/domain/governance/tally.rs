//! The outcome of a vote, from the rule snapshotted at opening and the votes cast. Pure.
//!
//! Every decision method splits into two independent conditions:
//!
//! - **quorum**: at least `quorum_bp` basis points of the eligible voters cast a vote (any
//!   choice, abstain and block included): `cast * 10000 >= quorum_bp * voters`. Consent has no
//!   quorum: silence is consent.
//! - **votes**, on the choices cast:
//!   - *majority*: more yes than against, where against is no + block (a block is a no here).
//!     A tie is rejected.
//!   - *supermajority*: at least one yes and `yes * 10000 >= threshold_bp * (yes + no + block)`;
//!     abstentions count for the quorum only.
//!   - *consensus*: nobody blocks, and more yes than no. A "no" records disagreement without
//!     stopping the proposal unless the no's outnumber (or tie) the yes's; a single block stops it.
//!   - *consent*: nobody objects, where an objection is a no or a block. Passes with no votes.
//!
//! A proposal passes at its deadline when both hold. It is *settled* before its deadline when
//! the votes already cast (taken as they stand) decide it whatever the voters who have not voted
//! yet do; it then closes early, and from then on nobody can vote or change a vote.
//! Because more participation only helps the quorum, and more yes only helps (more no or block
//! only hurts) the vote condition, "passes for every completion" is "quorum with the votes cast
//! so far, and the vote condition if every remaining voter blocked", and "fails for every
//! completion" is "not (quorum if everyone voted, and the vote condition if every remaining
//! voter said yes)".

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::text_enum::text_enum;

text_enum!(
    /// How a proposal is decided (see the module documentation for the exact rules).
    Method {
        Majority => "majority",
        Supermajority => "supermajority",
        Consensus => "consensus",
        Consent => "consent",
    }
);

text_enum!(
    /// A voter's choice.
    Choice {
        Yes => "yes",
        No => "no",
        Abstain => "abstain",
        Block => "block",
    }
);

/// The rule a proposal is decided by, frozen when it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionRule {
    pub method: Method,
    /// Share of eligible voters who must vote, in basis points (5000 = 50 %).
    pub quorum_bp: i32,
    /// Share of yes among yes, no and block that a supermajority needs, in basis points.
    pub threshold_bp: i32,
}

/// Votes cast so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    pub yes: i64,
    pub no: i64,
    pub abstain: i64,
    pub block: i64,
}

impl Counts {
    pub fn cast(&self) -> i64 {
        self.yes + self.no + self.abstain + self.block
    }

    pub fn add(&mut self, choice: Choice, n: i64) {
        match choice {
            Choice::Yes => self.yes += n,
            Choice::No => self.no += n,
            Choice::Abstain => self.abstain += n,
            Choice::Block => self.block += n,
        }
    }
}

/// Why a proposal did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    QuorumNotMet,
    /// Not enough yes for the method (a tie included).
    NotEnoughSupport,
    Blocked,
    Objected,
}

impl Rejection {
    /// The stable code; its sentence is message `reason-<code>` in the catalogs.
    pub fn code(self) -> &'static str {
        match self {
            Self::QuorumNotMet => "quorum_not_met",
            Self::NotEnoughSupport => "not_enough_support",
            Self::Blocked => "blocked",
            Self::Objected => "objected",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Rejected(Rejection),
}

fn quorum_met(rule: &DecisionRule, voters: i64, cast: i64) -> bool {
    if rule.method == Method::Consent {
        return true;
    }
    i128::from(cast) * 10_000 >= i128::from(rule.quorum_bp) * i128::from(voters)
}

/// The vote condition alone; `Ok` when it holds.
fn votes_hold(rule: &DecisionRule, c: &Counts) -> Result<(), Rejection> {
    let (yes, no, block) = (i128::from(c.yes), i128::from(c.no), i128::from(c.block));
    match rule.method {
        Method::Majority if yes > no + block => Ok(()),
        Method::Supermajority
            if yes > 0 && yes * 10_000 >= i128::from(rule.threshold_bp) * (yes + no + block) =>
        {
            Ok(())
        }
        Method::Majority | Method::Supermajority => Err(Rejection::NotEnoughSupport),
        Method::Consensus if block > 0 => Err(Rejection::Blocked),
        Method::Consensus if yes > no => Ok(()),
        Method::Consensus => Err(Rejection::NotEnoughSupport),
        Method::Consent if no + block > 0 => Err(Rejection::Objected),
        Method::Consent => Ok(()),
    }
}

/// The outcome at the deadline: quorum first, then the vote condition.
pub fn evaluate(rule: &DecisionRule, voters: i64, counts: &Counts) -> Outcome {
    if !quorum_met(rule, voters, counts.cast()) {
        return Outcome::Rejected(Rejection::QuorumNotMet);
    }
    match votes_hold(rule, counts) {
        Ok(()) => Outcome::Passed,
        Err(why) => Outcome::Rejected(why),
    }
}

/// The outcome if it no longer depends on the voters who have not voted yet.
pub fn settled(rule: &DecisionRule, voters: i64, counts: &Counts) -> Option<Outcome> {
    let remaining = (voters - counts.cast()).max(0);
    let all_block = Counts {
        block: counts.block + remaining,
        ..*counts
    };
    if quorum_met(rule, voters, counts.cast()) && votes_hold(rule, &all_block).is_ok() {
        return Some(Outcome::Passed);
    }
    let all_yes = Counts {
        yes: counts.yes + remaining,
        ..*counts
    };
    if !quorum_met(rule, voters, counts.cast() + remaining) || votes_hold(rule, &all_yes).is_err() {
        // Rejected whatever happens; the reason is the one the deadline would give as it stands.
        return Some(evaluate(rule, voters, counts));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHOICES: [Choice; 4] = [Choice::Yes, Choice::No, Choice::Abstain, Choice::Block];

    fn rule(method: Method, quorum_bp: i32, threshold_bp: i32) -> DecisionRule {
        DecisionRule {
            method,
            quorum_bp,
            threshold_bp,
        }
    }

    fn counts(yes: i64, no: i64, abstain: i64, block: i64) -> Counts {
        Counts {
            yes,
            no,
            abstain,
            block,
        }
    }

    use Method::{Consensus, Consent, Majority, Supermajority};
    use Outcome::{Passed, Rejected};
    use Rejection::{Blocked, NotEnoughSupport, Objected, QuorumNotMet};

    /// (method, quorum, threshold, voters, [yes, no, abstain, block]) -> outcome
    type DeadlineCase = (Method, i32, i32, i64, [i64; 4], Outcome);

    #[test]
    fn outcomes_at_the_deadline() {
        #[rustfmt::skip]
        let cases: &[DeadlineCase] = &[
            (Majority, 5000, 6667, 10, [3, 2, 0, 0], Passed),
            (Majority, 5000, 6667, 10, [3, 1, 0, 0], Rejected(QuorumNotMet)),     // 4 of 10 < 50 %
            (Majority, 5000, 6667, 10, [2, 2, 1, 0], Rejected(NotEnoughSupport)), // tie
            (Majority, 5000, 6667, 10, [3, 2, 0, 1], Rejected(NotEnoughSupport)), // block counts as no
            (Majority, 5000, 6667, 10, [1, 0, 4, 0], Passed),                     // abstain: quorum only
            (Majority, 0, 6667, 10, [0, 0, 0, 0], Rejected(NotEnoughSupport)),
            (Majority, 10000, 6667, 3, [2, 0, 0, 0], Rejected(QuorumNotMet)),
            (Majority, 3333, 6667, 3, [1, 0, 0, 0], Passed),                      // 1 of 3 >= 33.33 %
            (Majority, 3334, 6667, 3, [1, 0, 0, 0], Rejected(QuorumNotMet)),      // 1 of 3 < 33.34 %
            (Supermajority, 5000, 6667, 9, [4, 2, 0, 0], Rejected(NotEnoughSupport)), // 66.66 % < 66.67 %
            (Supermajority, 5000, 6666, 9, [4, 2, 0, 0], Passed),
            (Supermajority, 5000, 6667, 9, [2, 1, 3, 0], Rejected(NotEnoughSupport)),
            (Supermajority, 5000, 7500, 8, [3, 1, 0, 0], Passed),                 // exactly 75 %
            (Supermajority, 5000, 7500, 8, [3, 0, 0, 1], Passed),
            (Supermajority, 5000, 7500, 8, [3, 0, 0, 2], Rejected(NotEnoughSupport)),
            (Supermajority, 5000, 6667, 10, [4, 0, 0, 0], Rejected(QuorumNotMet)),
            (Supermajority, 0, 6667, 10, [0, 0, 1, 0], Rejected(NotEnoughSupport)),
            (Consensus, 5000, 6667, 4, [2, 0, 0, 0], Passed),
            (Consensus, 5000, 6667, 4, [1, 0, 0, 0], Rejected(QuorumNotMet)),
            (Consensus, 5000, 6667, 4, [3, 0, 0, 1], Rejected(Blocked)),
            (Consensus, 5000, 6667, 4, [2, 1, 1, 0], Passed),                     // a no does not stop it
            (Consensus, 5000, 6667, 4, [1, 1, 0, 0], Rejected(NotEnoughSupport)), // tie
            (Consensus, 5000, 6667, 4, [0, 0, 2, 0], Rejected(NotEnoughSupport)),
            (Consent, 5000, 6667, 10, [0, 0, 0, 0], Passed),                      // silence is consent
            (Consent, 10000, 6667, 10, [1, 0, 0, 0], Passed),                     // no quorum
            (Consent, 5000, 6667, 10, [5, 1, 0, 0], Rejected(Objected)),
            (Consent, 5000, 6667, 10, [5, 0, 0, 1], Rejected(Objected)),
        ];
        for (i, (method, quorum, threshold, voters, [y, n, a, b], want)) in cases.iter().enumerate()
        {
            let got = evaluate(
                &rule(*method, *quorum, *threshold),
                *voters,
                &counts(*y, *n, *a, *b),
            );
            assert_eq!(
                got, *want,
                "case {i}: {method} q={quorum} t={threshold} voters={voters} {y}/{n}/{a}/{b}"
            );
        }
    }

    #[test]
    fn settled_early_only_when_the_rest_cannot_change_it() {
        #[rustfmt::skip]
        let cases: &[(Method, i64, [i64; 4], Option<Outcome>)] = &[
            (Majority, 5, [3, 0, 0, 0], Some(Passed)),       // 3 > 0 + 2 remaining
            (Majority, 5, [2, 0, 0, 0], None),
            (Majority, 5, [0, 3, 0, 0], Some(Rejected(NotEnoughSupport))),
            (Majority, 6, [2, 2, 0, 0], None),               // a tie so far, two still to vote
            (Majority, 4, [2, 2, 0, 0], Some(Rejected(NotEnoughSupport))), // everyone voted: a tie
            (Consensus, 3, [2, 0, 0, 0], None),              // the last voter could block
            (Consensus, 3, [2, 0, 1, 0], Some(Passed)),      // everyone voted
            (Consensus, 3, [1, 0, 0, 1], Some(Rejected(Blocked))),
            (Consent, 3, [2, 0, 0, 0], None),
            (Consent, 3, [0, 1, 0, 0], Some(Rejected(Objected))),
            (Supermajority, 6, [4, 0, 0, 0], None),          // 4 of 6 is 66.66 % if the other two block
            (Supermajority, 6, [5, 0, 0, 0], Some(Passed)),
            (Supermajority, 6, [1, 2, 0, 0], Some(Rejected(NotEnoughSupport))),
        ];
        for (i, (method, voters, [y, n, a, b], want)) in cases.iter().enumerate() {
            let r = rule(*method, 5000, 6667);
            let got = settled(&r, *voters, &counts(*y, *n, *a, *b));
            assert_eq!(
                got, *want,
                "case {i}: {method} voters={voters} {y}/{n}/{a}/{b}"
            );
        }
    }

    /// Every way the remaining voters could still vote (or not vote).
    fn completions(base: Counts, remaining: i64, out: &mut Vec<Counts>) {
        out.push(base);
        if remaining == 0 {
            return;
        }
        for choice in CHOICES {
            let mut next = base;
            next.add(choice, 1);
            completions(next, remaining - 1, out);
        }
    }

    /// `settled` agrees with trying every completion, for every small electorate and rule.
    #[test]
    fn settled_matches_brute_force() {
        let methods = [Majority, Supermajority, Consensus, Consent];
        for method in methods {
            for quorum in [0, 2500, 5000, 6667, 10000] {
                for threshold in [5001, 6667, 7500, 10000] {
                    let r = rule(method, quorum, threshold);
                    for voters in 0..=5_i64 {
                        let mut cast = Vec::new();
                        completions(Counts::default(), voters, &mut cast);
                        for now in cast {
                            let mut futures = Vec::new();
                            completions(now, voters - now.cast(), &mut futures);
                            // Settled means pass or fail is fixed (the stated reason may still vary).
                            let passes = |f: &Counts| evaluate(&r, voters, f) == Passed;
                            let first = passes(&futures[0]);
                            let fixed = futures.iter().all(|f| passes(f) == first);
                            let got = settled(&r, voters, &now);
                            if fixed {
                                assert_eq!(
                                    got.map(|o| o == Passed),
                                    Some(first),
                                    "{r:?} {voters} {now:?}"
                                );
                            } else {
                                assert_eq!(got, None, "{r:?} {voters} {now:?}");
                            }
                            if let Some(Rejected(why)) = got {
                                assert_eq!(Rejected(why), evaluate(&r, voters, &now));
                            }
                        }
                    }
                }
            }
        }
    }
}
