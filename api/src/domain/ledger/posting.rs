//! Deciding a batch of transfers, in order, against the accounts the batch read (locked, or
//! checked unchanged where it writes), without touching the database: each order is applied to
//! in-memory balances or refused with the reason. The caller writes the outcome in one
//! transaction, so a refused order changes nothing.

use std::collections::HashMap;

use super::{Account, AccountKind, AccountRef, Authority, Transfer, TransferKind, TransferOrder};
use crate::domain::ids::{AccountId, CurrencyId, UserId};
use crate::error::Error;
use crate::refusal::Refusal;

/// What happens to one order of the batch.
#[derive(Debug)]
pub enum Decision {
    /// Write it: a new journal entry moving `amount` from `from` to `to`.
    Apply {
        from: AccountId,
        to: AccountId,
    },
    /// The key was used before with the same request: answer what was answered then.
    Replay(Transfer),
    /// Same key as an earlier order of this batch with the same request.
    SameAs(usize),
    Refuse(Error),
}

/// Accounts of one batch, as read, with balances that move as orders are decided.
pub struct Book {
    accounts: HashMap<AccountId, Account>,
    members: HashMap<(UserId, CurrencyId), AccountId>,
    system: HashMap<(AccountKind, CurrencyId), AccountId>,
}

impl Book {
    pub fn new(accounts: Vec<Account>) -> Self {
        let mut members = HashMap::new();
        let mut system = HashMap::new();
        for a in &accounts {
            match (a.kind, a.owner_user_id) {
                (AccountKind::Member, Some(owner)) => {
                    members.insert((owner, a.currency_id), a.id);
                }
                (kind, _) => {
                    system.insert((kind, a.currency_id), a.id);
                }
            }
        }
        Self {
            accounts: accounts.into_iter().map(|a| (a.id, a)).collect(),
            members,
            system,
        }
    }

    fn resolve(&self, r: AccountRef, currency: CurrencyId) -> Option<AccountId> {
        match r {
            AccountRef::Id(id) => self.accounts.contains_key(&id).then_some(id),
            AccountRef::Member(user) => self.members.get(&(user, currency)).copied(),
            AccountRef::Issuance => self.system.get(&(AccountKind::Issuance, currency)).copied(),
            AccountRef::Fund => self.system.get(&(AccountKind::Fund, currency)).copied(),
        }
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    pub fn balance(&self, id: AccountId) -> Option<i64> {
        self.accounts.get(&id).map(|a| a.balance)
    }

    /// Decides one fresh order and, when it applies, moves the in-memory balances.
    fn post(&mut self, order: &TransferOrder) -> Result<(AccountId, AccountId), Error> {
        let from_id = self
            .resolve(order.from, order.currency)
            .ok_or_else(|| Error::from(Refusal::PayingAccountNotFound))?;
        let to_id = self
            .resolve(order.to, order.currency)
            .ok_or_else(|| Error::from(Refusal::ReceivingAccountNotFound))?;
        if from_id == to_id {
            return Err(Error::SameAccount);
        }
        let (from, to) = match (self.accounts.get(&from_id), self.accounts.get(&to_id)) {
            (Some(f), Some(t)) => (f, t),
            _ => return Err(Error::from(Refusal::AccountNotFound)),
        };
        if from.currency_id != order.currency || to.currency_id != order.currency {
            return Err(Error::CurrencyMismatch);
        }
        match order.authority {
            Authority::Owner(user) if from.owner_user_id != Some(user) => {
                return Err(Error::from(Refusal::NotYourAccount));
            }
            Authority::Issuer if from.kind != AccountKind::Issuance => {
                return Err(Error::from(Refusal::IssuanceNotFromIssuanceAccount));
            }
            _ => {}
        }
        may_receive(to, order.kind)?;
        let amount = order.amount.minor();
        let new_from = from
            .balance
            .checked_sub(amount)
            .filter(|b| from.floor.is_none_or(|floor| *b >= floor))
            .ok_or(Error::InsufficientFunds)?;
        let new_to = to
            .balance
            .checked_add(amount)
            .filter(|b| to.ceiling.is_none_or(|ceiling| *b <= ceiling))
            .ok_or(Error::CeilingExceeded)?;
        if let Some(a) = self.accounts.get_mut(&from_id) {
            a.balance = new_from;
        }
        if let Some(a) = self.accounts.get_mut(&to_id) {
            a.balance = new_to;
        }
        Ok((from_id, to_id))
    }
}

/// Money goes only where it can be used: a current member's account, or one of the org's own
/// accounts through its own operation. A removed member's account is closed (except to a refund
/// of what they invested: it was their money). A plain payment into a project's account would be
/// stuck there (a project refunds only investments), and into the issuance account it would
/// destroy the money; the community fund takes payments (donations).
fn may_receive(to: &Account, kind: TransferKind) -> Result<(), Error> {
    match to.kind {
        AccountKind::Member if to.closed && kind != TransferKind::Refund => {
            Err(Error::from(Refusal::ReceivingAccountClosed))
        }
        AccountKind::Project if kind == TransferKind::Payment => {
            Err(Error::from(Refusal::ProjectAccountNotPayable {
                field: "to_account",
            }))
        }
        AccountKind::Issuance if kind == TransferKind::Payment => {
            Err(Error::from(Refusal::IssuanceAccountNotPayable {
                field: "to_account",
            }))
        }
        _ => Ok(()),
    }
}

/// Decides every order of a batch, in order. `earlier` holds journal entries already written
/// under some of the batch's keys, with their request fingerprints.
pub fn decide(
    orders: &[TransferOrder],
    book: &mut Book,
    earlier: &HashMap<String, (Vec<u8>, Transfer)>,
) -> Vec<Decision> {
    let mut seen: HashMap<&str, (usize, Vec<u8>)> = HashMap::new();
    let mut decisions = Vec::with_capacity(orders.len());
    for (i, order) in orders.iter().enumerate() {
        let fingerprint = order.fingerprint();
        let decision = if let Some((fp, transfer)) = earlier.get(&order.key) {
            if *fp == fingerprint {
                Decision::Replay(transfer.clone())
            } else {
                Decision::Refuse(Error::IdempotencyConflict)
            }
        } else if let Some((first, fp)) = seen.get(order.key.as_str()) {
            if *fp == fingerprint {
                Decision::SameAs(*first)
            } else {
                Decision::Refuse(Error::IdempotencyConflict)
            }
        } else {
            match book.post(order) {
                Ok((from, to)) => {
                    seen.insert(&order.key, (i, fingerprint));
                    Decision::Apply { from, to }
                }
                Err(e) => Decision::Refuse(e),
            }
        };
        decisions.push(decision);
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Amount;

    const C: CurrencyId = CurrencyId(1);

    fn account(
        id: i64,
        kind: AccountKind,
        owner: Option<i64>,
        balance: i64,
        floor: Option<i64>,
    ) -> Account {
        Account {
            id: AccountId(id),
            currency_id: C,
            kind,
            owner_user_id: owner.map(UserId),
            balance,
            floor,
            ceiling: None,
            closed: false,
        }
    }

    fn order(
        key: &str,
        from: AccountRef,
        to: AccountRef,
        amount: i64,
        authority: Authority,
    ) -> TransferOrder {
        TransferOrder {
            key: key.into(),
            currency: C,
            from,
            to,
            amount: Amount::from_minor(amount).unwrap(),
            kind: TransferKind::Payment,
            memo: String::new(),
            actor: UserId(1),
            authority,
            credential: None,
        }
    }

    fn book() -> Book {
        Book::new(vec![
            account(1, AccountKind::Issuance, None, -100, None),
            account(2, AccountKind::Member, Some(1), 100, Some(0)),
            account(3, AccountKind::Member, Some(2), 0, Some(-50)),
        ])
    }

    #[test]
    fn a_batch_moves_balances_in_order_and_refuses_overdrafts() {
        let mut b = book();
        let me = Authority::Owner(UserId(1));
        let orders = [
            order(
                "a",
                AccountRef::Member(UserId(1)),
                AccountRef::Member(UserId(2)),
                60,
                me,
            ),
            order(
                "b",
                AccountRef::Member(UserId(1)),
                AccountRef::Member(UserId(2)),
                60,
                me,
            ),
            order(
                "c",
                AccountRef::Member(UserId(1)),
                AccountRef::Id(AccountId(3)),
                40,
                me,
            ),
            order(
                "a",
                AccountRef::Member(UserId(1)),
                AccountRef::Member(UserId(2)),
                60,
                me,
            ),
            order(
                "a",
                AccountRef::Member(UserId(1)),
                AccountRef::Member(UserId(2)),
                61,
                me,
            ),
            order(
                "d",
                AccountRef::Member(UserId(2)),
                AccountRef::Member(UserId(1)),
                5,
                me,
            ),
            order(
                "e",
                AccountRef::Issuance,
                AccountRef::Member(UserId(2)),
                5,
                Authority::Issuer,
            ),
            order(
                "f",
                AccountRef::Member(UserId(1)),
                AccountRef::Member(UserId(1)),
                1,
                me,
            ),
        ];
        let d = decide(&orders, &mut b, &HashMap::new());
        assert!(matches!(d[0], Decision::Apply { .. }));
        assert!(matches!(d[1], Decision::Refuse(Error::InsufficientFunds)));
        assert!(matches!(d[2], Decision::Apply { .. }));
        assert!(matches!(d[3], Decision::SameAs(0)));
        assert!(matches!(d[4], Decision::Refuse(Error::IdempotencyConflict)));
        assert!(matches!(
            d[5],
            Decision::Refuse(Error::Refused(Refusal::NotYourAccount))
        ));
        assert!(matches!(d[6], Decision::Apply { .. }));
        assert!(matches!(d[7], Decision::Refuse(Error::SameAccount)));
        assert_eq!(b.balance(AccountId(1)), Some(-105));
        assert_eq!(b.balance(AccountId(2)), Some(0));
        assert_eq!(b.balance(AccountId(3)), Some(105));
    }

    #[test]
    fn money_goes_only_where_it_can_be_used() {
        let mut closed = account(4, AccountKind::Member, Some(3), 0, Some(0));
        closed.closed = true;
        let accounts = || {
            vec![
                account(1, AccountKind::Issuance, None, -100, None),
                account(2, AccountKind::Member, Some(1), 100, Some(0)),
                closed.clone(),
                account(5, AccountKind::Project, None, 0, Some(0)),
                account(6, AccountKind::Fund, None, 0, Some(0)),
            ]
        };
        let me = Authority::Owner(UserId(1));
        let pay = |key: &str, to: i64, kind: TransferKind| TransferOrder {
            kind,
            authority: if kind == TransferKind::Payment {
                me
            } else {
                Authority::System
            },
            ..order(
                key,
                AccountRef::Member(UserId(1)),
                AccountRef::Id(AccountId(to)),
                1,
                me,
            )
        };
        let orders = [
            pay("closed", 4, TransferKind::Payment),
            pay("refund", 4, TransferKind::Refund),
            pay("project", 5, TransferKind::Payment),
            pay("invest", 5, TransferKind::Investment),
            pay("issuance", 1, TransferKind::Payment),
            pay("cancel", 1, TransferKind::Cancellation),
            pay("donation", 6, TransferKind::Payment),
        ];
        let d = decide(&orders, &mut Book::new(accounts()), &HashMap::new());
        assert!(
            matches!(
                d[0],
                Decision::Refuse(Error::Refused(Refusal::ReceivingAccountClosed))
            ),
            "closed"
        );
        assert!(
            matches!(d[1], Decision::Apply { .. }),
            "a refund to a closed account"
        );
        assert!(
            matches!(
                d[2],
                Decision::Refuse(Error::Refused(Refusal::ProjectAccountNotPayable { .. }))
            ),
            "into a project"
        );
        assert!(matches!(d[3], Decision::Apply { .. }), "an investment");
        assert!(
            matches!(
                d[4],
                Decision::Refuse(Error::Refused(Refusal::IssuanceAccountNotPayable { .. }))
            ),
            "into issuance"
        );
        assert!(matches!(d[5], Decision::Apply { .. }), "a cancellation");
        assert!(
            matches!(d[6], Decision::Apply { .. }),
            "a donation to the fund"
        );
    }

    #[test]
    fn the_issuance_account_has_no_floor_but_cannot_overflow() {
        let mut b = Book::new(vec![
            account(1, AccountKind::Issuance, None, i64::MIN + 10, None),
            account(2, AccountKind::Member, Some(1), 0, Some(0)),
        ]);
        let o = |k: &str, n| {
            order(
                k,
                AccountRef::Issuance,
                AccountRef::Member(UserId(1)),
                n,
                Authority::Issuer,
            )
        };
        let d = decide(&[o("x", 10), o("y", 1)], &mut b, &HashMap::new());
        assert!(matches!(d[0], Decision::Apply { .. }));
        assert!(matches!(d[1], Decision::Refuse(Error::InsufficientFunds)));
    }
}
