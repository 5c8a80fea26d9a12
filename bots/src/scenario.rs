//! One chat scenario, described once, that every platform's tests run: an admin hands out a
//! connect code, a room is connected, two people pay, pledge, vote, post and read their
//! balances, and the ledger ends where it should. Each platform's test implements [`Driver`]
//! (how a person types a line there and how the bot's answer is read back); [`run`] plays
//! [`STEPS`] against it. So the platforms cannot drift apart: they pass the same script.

use std::collections::HashMap;

use coinsence_api::Core;
use coinsence_api::domain::chat::{ChatIdentity, ChatPlatform};
use coinsence_api::domain::ledger::AccountRef;
use coinsence_api::domain::ledger::ops::{IdempotencyKey, MoveRequest, NewCurrency};
use coinsence_api::domain::orgs::{Member, NewOrg};
use coinsence_api::domain::tenancy::OrgSlug;
use coinsence_api::i18n::Lang;
use futures::future::BoxFuture;

/// The two people of the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Person {
    Ana,
    Ben,
}

/// How one platform's test lets a person speak and hears the bot.
pub trait Driver: Send {
    fn platform(&self) -> ChatPlatform;
    /// The platform user id of a person (as the bot sees the sender).
    fn user_id(&self, who: Person) -> String;
    /// How a person is mentioned in a command on this platform.
    fn mention(&self, who: Person) -> String;
    /// The person types `text` in the scenario's room; returns the bot's answer as plain text.
    fn say<'a>(&'a mut self, who: Person, text: &'a str) -> BoxFuture<'a, Result<String, String>>;
    /// From now on both people's platform says they read the language `tag` (Telegram's
    /// `language_code`, Discord's interaction `locale`). A platform that tells no language
    /// cannot run the scenario in another language than the org's.
    fn set_locale(&mut self, tag: &'static str) -> Result<(), String> {
        Err(format!(
            "{} tells no language; cannot speak {tag}",
            self.platform()
        ))
    }
}

/// One step of the scenario.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// A person types a line; the answer must contain every text of `en` (when the run's
    /// people read English) or `de` (German). `capture` names a variable taken from the first
    /// `#<digits>` after the text `after` (English, German) in the answer.
    Say {
        who: Person,
        text: &'static str,
        en: &'static [&'static str],
        de: &'static [&'static str],
        capture: Option<(&'static str, &'static str, &'static str)>,
    },
    /// The admin issues money to a person (outside chat, as the portal would).
    Fund { who: Person, amount: &'static str },
    /// The ledger holds these balances (currency `COIN`).
    Balances(&'static [(Person, &'static str)]),
    /// Of the scenario's people, exactly these are members of the org (besides its admin).
    Members(&'static [Person]),
}

/// The shared scenario. `{code}`, `{ana}`, `{ben}`, `{other}` (the language the run's people do
/// not read: `de` in the English run) and captured variables are filled in.
pub const STEPS: &[Step] = &[
    Step::Say {
        who: Person::Ana,
        text: "!balance",
        en: &["not connected"],
        de: &["noch mit keiner Gemeinschaft verbunden"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!connect {code}",
        en: &["now connected to Scenario Commons"],
        de: &["jetzt mit Scenario Commons verbunden"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!balance",
        en: &["0.00 COIN"],
        de: &["0,00 COIN"],
        capture: None,
    },
    Step::Fund {
        who: Person::Ana,
        amount: "100",
    },
    // A refused payment to someone new changes nothing: Ben is not made a member by it.
    Step::Say {
        who: Person::Ana,
        text: "!pay {ben} 1000",
        en: &["not enough", "1,000.00 COIN", "Nothing was paid"],
        de: &["nicht genug", "1.000,00 COIN", "Es wurde nichts gezahlt"],
        capture: None,
    },
    Step::Members(&[Person::Ana]),
    // A decimal comma reads the same in every language.
    Step::Say {
        who: Person::Ana,
        text: "!pay {ben} 12,50 for bread",
        en: &["Paid 12.50 COIN to", "for bread"],
        de: &["12,50 COIN an", "gezahlt für bread"],
        capture: None,
    },
    Step::Members(&[Person::Ana, Person::Ben]),
    Step::Say {
        who: Person::Ben,
        text: "!balance",
        en: &["12.50 COIN"],
        de: &["12,50 COIN"],
        capture: None,
    },
    Step::Say {
        who: Person::Ben,
        text: "/pledge 5 for two hours of bike repair",
        en: &["Pledge #", "5.00 COIN"],
        de: &["Zusage #", "5,00 COIN"],
        capture: Some(("proposal", "Proposal ", "Antrag ")),
    },
    Step::Say {
        who: Person::Ana,
        text: "!vote {proposal} yes",
        en: &["You voted yes"],
        de: &["mit Ja gestimmt"],
        capture: None,
    },
    Step::Say {
        who: Person::Ben,
        text: "!VOTE {proposal} YES",
        en: &["You voted yes", "it passed"],
        de: &["mit Ja gestimmt", "angenommen"],
        capture: None,
    },
    // The refusal's words are the domain's (refusals.ftl); that nothing changed shows below.
    Step::Say {
        who: Person::Ben,
        text: "!vote {proposal} no",
        en: &["has closed"],
        de: &[],
        capture: None,
    },
    Step::Say {
        who: Person::Ben,
        text: "!balance",
        en: &["17.50 COIN"],
        de: &["17,50 COIN"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!post The repair café opens on Saturday",
        en: &["Posted"],
        de: &["veröffentlicht"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!frobnicate",
        en: &["don't know", "/pay @who"],
        de: &["kenne ich nicht", "/pay @wer"],
        capture: None,
    },
    Step::Balances(&[(Person::Ana, "87.50"), (Person::Ben, "17.50")]),
    // Languages: which one and why, a choice of one's own, and back to the platform's.
    Step::Say {
        who: Person::Ana,
        text: "!language",
        en: &["I answer you in English, the community's language"],
        de: &["Ich antworte dir auf Deutsch, wie deine App eingestellt ist"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!language {other}",
        en: &["Ab jetzt antworte ich dir auf Deutsch"],
        de: &["From now on I answer you in English"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!balance",
        en: &["87,50 COIN"],
        de: &["87.50 COIN"],
        capture: None,
    },
    Step::Say {
        who: Person::Ben,
        text: "!balance",
        en: &["17.50 COIN"],
        de: &["17,50 COIN"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!language auto",
        en: &["For now that is English"],
        de: &["Im Moment ist das Deutsch"],
        capture: None,
    },
    Step::Say {
        who: Person::Ana,
        text: "!balance",
        en: &["87.50 COIN"],
        de: &["87,50 COIN"],
        capture: None,
    },
];

/// The org the scenario runs in: open, currency `COIN` (scale 2).
pub struct ScenarioOrg {
    pub admin: Member,
}

/// Creates the scenario's org with a fresh slug.
pub async fn setup(core: &Core, slug: &str) -> Result<ScenarioOrg, String> {
    let org = NewOrg {
        slug: OrgSlug::parse(slug).map_err(|e| e.to_string())?,
        name: "Scenario Commons".to_owned(),
        open: true,
        language: Default::default(),
    };
    let owner = core
        .signup(
            &format!("admin@{slug}.example.org"),
            "correct horse battery".to_owned(),
            "Scenario admin",
            Some(org),
        )
        .await
        .map_err(|e| e.to_string())?;
    let admin = core
        .member_for_token(&owner.token, slug)
        .await
        .map_err(|e| e.to_string())?;
    core.create_currency(
        &admin,
        NewCurrency {
            code: "COIN".to_owned(),
            name: "Coin".to_owned(),
            scale: 2,
            credit_limit: None,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(ScenarioOrg { admin })
}

/// Plays [`STEPS`] through `driver`, its people reading `lang` (the org's is English: German
/// comes from their platform); the first failed expectation is the error.
pub async fn run(
    core: &Core,
    org: &ScenarioOrg,
    driver: &mut dyn Driver,
    lang: Lang,
) -> Result<(), String> {
    let platform = |d: &dyn Driver, who| d.user_id(who);
    let mut vars: HashMap<&str, String> = HashMap::new();
    let other = match lang {
        Lang::En => Lang::De,
        Lang::De => {
            driver.set_locale("de-DE")?;
            Lang::En
        }
    };
    vars.insert("other", other.as_str().to_owned());
    let code = core
        .create_connect_code(&org.admin)
        .await
        .map_err(|e| e.to_string())?;
    vars.insert("code", code.code);
    vars.insert("ana", driver.mention(Person::Ana));
    vars.insert("ben", driver.mention(Person::Ben));
    let chat_platform = driver.platform();
    for (n, step) in STEPS.iter().enumerate() {
        match *step {
            Step::Say {
                who,
                text,
                en,
                de,
                capture,
            } => {
                let expect = match lang {
                    Lang::En => en,
                    Lang::De => de,
                };
                let mut line = text.to_owned();
                for (k, v) in &vars {
                    line = line.replace(&format!("{{{k}}}"), v);
                }
                let answer = driver.say(who, &line).await?;
                for want in expect {
                    if !answer.contains(want) {
                        return Err(format!(
                            "step {n}: {who:?} typed {line:?}; expected {want:?} in the answer {answer:?}"
                        ));
                    }
                }
                if let Some((name, after_en, after_de)) = capture {
                    let after = match lang {
                        Lang::En => after_en,
                        Lang::De => after_de,
                    };
                    let value = number_after(&answer, after).ok_or_else(|| {
                        format!("step {n}: no #number after {after:?} in {answer:?}")
                    })?;
                    vars.insert(name, value);
                }
            }
            Step::Fund { who, amount } => {
                let id = ChatIdentity::new(chat_platform, &platform(driver, who))
                    .map_err(|e| e.to_string())?;
                let user = core
                    .chat_user(&id, &format!("{who:?}"))
                    .await
                    .map_err(|e| e.to_string())?;
                core.issue(
                    &org.admin,
                    MoveRequest {
                        currency: "COIN".to_owned(),
                        to: AccountRef::Member(user.id),
                        amount: amount.to_owned(),
                        memo: "scenario funding".to_owned(),
                    },
                    IdempotencyKey::scoped("scenario", "fund", &format!("{n}"))
                        .map_err(|e| e.to_string())?,
                )
                .await
                .map_err(|e| format!("step {n}: funding: {e}"))?;
            }
            Step::Members(expected) => {
                let members = core.members(&org.admin).await.map_err(|e| e.to_string())?;
                let mut found = Vec::new();
                for who in [Person::Ana, Person::Ben] {
                    // Looked up without creating anyone: no room, just who they are.
                    let known = core
                        .chat_context(chat_platform, "", &platform(driver, who))
                        .await
                        .map_err(|e| e.to_string())?
                        .user;
                    if known.is_some_and(|u| members.iter().any(|m| m.user_id == u.id)) {
                        found.push(who);
                    }
                }
                if found != expected || members.len() != expected.len() + 1 {
                    let names: Vec<&str> =
                        members.iter().map(|m| m.display_name.as_str()).collect();
                    return Err(format!(
                        "step {n}: expected members {expected:?} (and the admin), found {found:?} among {names:?}"
                    ));
                }
            }
            Step::Balances(expected) => {
                for (who, want) in expected {
                    let got = balance_of(core, org, chat_platform, &platform(driver, *who)).await?;
                    if got != *want {
                        return Err(format!(
                            "step {n}: {who:?} has {got} COIN in the ledger, expected {want}"
                        ));
                    }
                }
                let checks = core
                    .verify_ledger(&org.admin)
                    .await
                    .map_err(|e| e.to_string())?;
                if !checks.iter().all(|c| c.ok) {
                    return Err(format!("step {n}: the ledger does not verify: {checks:?}"));
                }
            }
        }
    }
    Ok(())
}

/// A person's COIN balance in the ledger, as decimal text.
pub async fn balance_of(
    core: &Core,
    org: &ScenarioOrg,
    platform: ChatPlatform,
    user_id: &str,
) -> Result<String, String> {
    let id = ChatIdentity::new(platform, user_id).map_err(|e| e.to_string())?;
    let user = core
        .chat_user(&id, user_id)
        .await
        .map_err(|e| e.to_string())?;
    let accounts = core.accounts(&org.admin).await.map_err(|e| e.to_string())?;
    Ok(accounts
        .iter()
        .find(|a| a.account.owner_user_id == Some(user.id) && a.currency.code.as_str() == "COIN")
        .map(|a| a.balance())
        .unwrap_or_else(|| "none".to_owned()))
}

/// The digits of the first `#<digits>` after `marker` in `text`.
pub fn number_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let rest = &rest[rest.find('#')? + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}
