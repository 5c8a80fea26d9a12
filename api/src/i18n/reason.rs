//! Why something did not go through (a proposal rejected by its vote, or passed but refused when
//! carried out), kept as data: a code and its arguments, rendered for whoever reads it.

use serde::{Deserialize, Serialize};

use super::{Args, Lang, has_message, message};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// The stable machine code, e.g. `quorum_not_met` or `insufficient_funds`.
    pub code: String,
    pub args: Args,
}

impl Reason {
    pub fn new(code: impl Into<String>, args: Args) -> Self {
        Self {
            code: code.into(),
            args,
        }
    }

    /// The reason as one sentence in `lang`. An outcome of a vote is message `reason-<code>`
    /// (`notices.ftl`); an error's or a refusal's code is its own message id (`refusals.ftl`).
    pub fn message(&self, lang: Lang) -> String {
        let outcome = format!("reason-{}", self.code);
        if has_message(lang, &outcome) {
            return message(lang, &outcome, &self.args);
        }
        message(lang, &self.code, &self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Scale;

    #[test]
    fn a_kept_reason_renders_its_amounts_in_each_language() {
        let scale = Scale::new(2).unwrap_or_else(|_| unreachable!());
        let reason = Reason::new(
            "investment_cap_exceeded",
            Args::new().money("cap", 123_456, scale),
        );
        let kept = serde_json::to_string(&reason).unwrap_or_default();
        let back: Reason = serde_json::from_str(&kept).unwrap_or_else(|e| panic!("{kept}: {e}"));
        assert_eq!(back, reason);
        assert!(
            back.message(Lang::En).contains("1,234.56"),
            "{}",
            back.message(Lang::En)
        );
        assert!(
            back.message(Lang::De).contains("1.234,56"),
            "{}",
            back.message(Lang::De)
        );
    }

    #[test]
    fn the_outcomes_of_a_vote_read_in_each_language() {
        for code in [
            "quorum_not_met",
            "not_enough_support",
            "blocked",
            "objected",
        ] {
            let reason = Reason::new(code, Args::new());
            for lang in Lang::ALL {
                let text = reason.message(lang);
                assert!(!text.is_empty() && text != code, "{lang} {code}: {text}");
            }
        }
        assert_ne!(
            Reason::new("blocked", Args::new()).message(Lang::En),
            Reason::new("blocked", Args::new()).message(Lang::De)
        );
    }
}
