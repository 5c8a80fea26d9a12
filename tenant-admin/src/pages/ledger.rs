//! The ledger: balances, the journal (by account, a page at a time), and both as CSV that opens
//! in a spreadsheet (German: `;` between fields and a decimal comma; English: `,` and a point).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use coinsence_api::Core;
use coinsence_api::Result;
use coinsence_api::domain::ids::{AccountId, TransferId};
use coinsence_api::domain::ledger::ops::AccountView;
use coinsence_api::domain::ledger::{AccountKind, TransferKind};
use coinsence_api::domain::orgs::Member;
use coinsence_api::domain::portal_journal::JournalFilter;
use coinsence_api::i18n::{self, Args, Lang};
use serde::Deserialize;

use crate::Portal;
use crate::error::PortalError;
use crate::page::{Ctx, render};
use crate::session::InOrg;

/// A journal entry as a row of the page.
pub struct JournalRow {
    pub id: i64,
    pub date: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub amount: String,
    pub currency: String,
    pub memo: String,
}

/// How accounts are called on the page: their owner's name, or what they are for.
struct Names(HashMap<AccountId, String>);

impl Names {
    async fn load(core: &Core, member: &Member, p: &Ctx, accounts: &[AccountView]) -> Result<Self> {
        let people: HashMap<_, _> = core
            .members(member)
            .await?
            .into_iter()
            .map(|m| (m.user_id, m.display_name))
            .collect();
        let names = accounts
            .iter()
            .map(|a| {
                let name = match (a.account.kind, a.account.owner_user_id) {
                    (AccountKind::Member, Some(owner)) => people
                        .get(&owner)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", a.account.id)),
                    (kind, _) => p.t(&format!("portal-account-{kind}")),
                };
                (a.account.id, name)
            })
            .collect();
        Ok(Self(names))
    }

    fn of(&self, id: AccountId) -> String {
        self.0.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
    }
}

/// Journal entries as rows, newest first.
pub async fn journal_rows(
    core: &Core,
    member: &Member,
    p: &Ctx,
    filter: &JournalFilter,
    limit: i64,
) -> Result<Vec<JournalRow>> {
    let accounts = core.accounts(member).await?;
    let names = Names::load(core, member, p, &accounts).await?;
    let receipts = core.journal(member, filter, limit).await?;
    Ok(receipts
        .into_iter()
        .map(|r| JournalRow {
            id: r.transfer.id.0,
            date: p.date(&r.transfer.created_at),
            kind: p.t(&format!("portal-kind-{}", r.transfer.kind)),
            from: names.of(r.transfer.from_account),
            to: names.of(r.transfer.to_account),
            amount: p.amount(r.transfer.amount, r.currency.scale),
            currency: r.currency.code.as_str().to_owned(),
            memo: r.transfer.memo,
        })
        .collect())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct JournalQuery {
    pub account: String,
    /// A kind of entry (`payment`, `issuance`, ...).
    pub kind: String,
    /// First and last day, `YYYY-MM-DD` (what a date field sends).
    pub from: String,
    pub until: String,
    pub before: String,
    /// CSV number format: `de` or `en` (default: the reader's language).
    pub lang: String,
}

impl JournalQuery {
    /// The filter it asks for; what does not parse is no filter.
    pub fn filter(&self) -> JournalFilter {
        let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        JournalFilter {
            mine: false,
            account: self.account.trim().parse::<i64>().ok().map(AccountId),
            kind: TransferKind::try_from(self.kind.trim().to_owned()).ok(),
            from: day(&self.from),
            until: day(&self.until),
            before: self.before.trim().parse::<i64>().ok().map(TransferId),
        }
    }

    /// The filter as a query string (without `before`), for the next page and the CSV link.
    fn filter_query(&self) -> String {
        let f = self.filter();
        let text = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        [
            ("account", f.account.map(|a| a.to_string())),
            ("kind", f.kind.map(|k| k.as_str().to_owned())),
            ("from", text(f.from)),
            ("until", text(f.until)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// The kinds of entry a journal can be filtered by.
const KINDS: [&str; 7] = [
    "payment",
    "issuance",
    "investment",
    "refund",
    "purchase",
    "cancellation",
    "demurrage",
];

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    p: Ctx,
    slug: String,
    balances: Vec<(String, String, String)>,
    account_choices: Vec<(String, String)>,
    kind_choices: Vec<(&'static str, String)>,
    q: JournalQuery,
    /// The filter as a query string, for the next page and the CSV.
    filters: String,
    journal: Vec<JournalRow>,
    next: String,
}

const PAGE: i64 = 50;

pub async fn page(
    State(portal): State<Portal>,
    Query(q): Query<JournalQuery>,
    who: InOrg,
) -> Result<Response, PortalError> {
    let lang = who.lang;
    let fail = |e| PortalError::new(e, lang);
    let core = &portal.core;
    let m = &who.member;
    let p = Ctx::in_org(&who, "ledger");
    let accounts = core.accounts(m).await.map_err(fail)?;
    let names = Names::load(core, m, &p, &accounts).await.map_err(fail)?;
    let journal = journal_rows(core, m, &p, &q.filter(), PAGE)
        .await
        .map_err(fail)?;
    let next = if i64::try_from(journal.len()).unwrap_or(0) == PAGE {
        journal.last().map(|r| r.id.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let balances = accounts
        .iter()
        .map(|a| {
            (
                names.of(a.account.id),
                a.currency.code.as_str().to_owned(),
                p.amount(a.account.balance, a.currency.scale),
            )
        })
        .collect();
    let account_choices = accounts
        .iter()
        .map(|a| {
            (
                a.account.id.to_string(),
                format!("{} ({})", names.of(a.account.id), a.currency.code.as_str()),
            )
        })
        .collect();
    let page = LedgerPage {
        slug: m.tenant.slug.as_str().to_owned(),
        balances,
        account_choices,
        kind_choices: KINDS
            .iter()
            .map(|k| (*k, p.t(&format!("portal-kind-{k}"))))
            .collect(),
        filters: q.filter_query(),
        q,
        journal,
        next,
        p,
    };
    render(StatusCode::OK, &page, lang)
}

/// One CSV cell: quoted when it holds the separator, a quote or a line break; text that a
/// spreadsheet would run as a formula is prefixed with `'`.
fn cell(text: &str, sep: char, is_text: bool) -> String {
    let text = if is_text && text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([sep, '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        // A byte-order mark: spreadsheets then read the file as UTF-8.
        format!("\u{feff}{body}"),
    )
        .into_response()
}

fn separator(lang: Lang) -> char {
    if lang.decimal_separator() == ',' {
        ';'
    } else {
        ','
    }
}

/// Amounts without grouping, with the language's decimal mark: what a spreadsheet reads as a
/// number.
fn plain_amount(minor: i64, scale: coinsence_api::domain::money::Scale, lang: Lang) -> String {
    let plain = coinsence_api::domain::money::format_minor(minor, scale);
    if lang.decimal_separator() == ',' {
        plain.replace('.', ",")
    } else {
        plain
    }
}

/// A CSV for a spreadsheet in one language's number format (`?lang=`, else the reader's), with
/// what its rows need: the accounts and their names.
struct Csv {
    lang: Lang,
    sep: char,
    accounts: Vec<AccountView>,
    names: Names,
    out: String,
}

impl Csv {
    /// The header row (catalog ids) written, the accounts read.
    async fn start(
        portal: &Portal,
        q: &JournalQuery,
        who: &InOrg,
        header: &[&str],
    ) -> Result<Self, PortalError> {
        let lang = Lang::from_tag(&q.lang).unwrap_or(who.lang);
        let fail = |e| PortalError::new(e, who.lang);
        let mut p = Ctx::in_org(who, "ledger");
        p.lang = lang;
        let accounts = portal.core.accounts(&who.member).await.map_err(fail)?;
        let names = Names::load(&portal.core, &who.member, &p, &accounts)
            .await
            .map_err(fail)?;
        let mut csv = Self {
            lang,
            sep: separator(lang),
            accounts,
            names,
            out: String::new(),
        };
        let header: Vec<String> = header.iter().map(|id| csv.text(&p.t(id))).collect();
        csv.row(&header);
        Ok(csv)
    }

    /// A cell of text (quoted, formulas defused).
    fn text(&self, text: &str) -> String {
        cell(text, self.sep, true)
    }

    fn amount(&self, minor: i64, scale: coinsence_api::domain::money::Scale) -> String {
        plain_amount(minor, scale, self.lang)
    }

    fn row(&mut self, cells: &[String]) {
        self.out.push_str(&cells.join(&self.sep.to_string()));
        self.out.push_str("\r\n");
    }

    fn send(self, name: &str) -> Response {
        csv_response(name, self.out)
    }
}

/// The whole journal (or one account's), oldest last, as CSV.
pub async fn journal_csv(
    State(portal): State<Portal>,
    Query(q): Query<JournalQuery>,
    who: InOrg,
) -> Result<Response, PortalError> {
    let header = [
        "portal-col-id",
        "portal-col-date",
        "portal-col-kind",
        "portal-col-from",
        "portal-col-to",
        "portal-col-amount",
        "portal-col-currency",
        "portal-col-memo",
    ];
    let mut csv = Csv::start(&portal, &q, &who, &header).await?;
    let fail = |e| PortalError::new(e, who.lang);
    let mut filter = q.filter();
    filter.before = None;
    loop {
        let receipts = portal
            .core
            .journal(&who.member, &filter, 200)
            .await
            .map_err(fail)?;
        let Some(last) = receipts.last() else { break };
        filter.before = Some(last.transfer.id);
        for r in &receipts {
            let t = &r.transfer;
            let kind = i18n::message(csv.lang, &format!("portal-kind-{}", t.kind), &Args::new());
            let row = [
                t.id.to_string(),
                t.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                csv.text(&kind),
                csv.text(&csv.names.of(t.from_account)),
                csv.text(&csv.names.of(t.to_account)),
                csv.amount(t.amount, r.currency.scale),
                r.currency.code.as_str().to_owned(),
                csv.text(&t.memo),
            ];
            csv.row(&row);
        }
        if receipts.len() < 200 {
            break;
        }
    }
    Ok(csv.send("journal.csv"))
}

/// Every account's balance as CSV.
pub async fn balances_csv(
    State(portal): State<Portal>,
    Query(q): Query<JournalQuery>,
    who: InOrg,
) -> Result<Response, PortalError> {
    let header = [
        "portal-col-account",
        "portal-col-currency",
        "portal-col-balance",
    ];
    let mut csv = Csv::start(&portal, &q, &who, &header).await?;
    let rows: Vec<[String; 3]> = csv
        .accounts
        .iter()
        .map(|a| {
            [
                csv.text(&csv.names.of(a.account.id)),
                a.currency.code.as_str().to_owned(),
                csv.amount(a.account.balance, a.currency.scale),
            ]
        })
        .collect();
    for row in &rows {
        csv.row(row);
    }
    Ok(csv.send("balances.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_quote_separators_and_defuse_formulas() {
        assert_eq!(cell("lunch", ';', true), "lunch");
        assert_eq!(cell("a;b", ';', true), "\"a;b\"");
        assert_eq!(cell("say \"hi\", ok", ',', true), "\"say \"\"hi\"\", ok\"");
        assert_eq!(cell("=HYPERLINK(1)", ',', true), "'=HYPERLINK(1)");
        assert_eq!(cell("-3,50", ';', false), "-3,50");
    }
}
