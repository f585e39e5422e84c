//! A plain reference model of the bank, staking and credits rules, written from the spec
//! without the ledger's code: integers in maps, nothing else.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub enum Op {
    Transfer { to: usize, amount: u128 },
    Bond { amount: u128 },
    Unbond { amount: u128 },
    Burn { credits: u64 },
    Delegate { to: usize, credits: u64 },
}

#[derive(Debug, Clone)]
pub struct Model {
    pub balance: BTreeMap<usize, u128>,
    pub nonce: BTreeMap<usize, u64>,
    pub bonded: BTreeMap<usize, u128>,
    pub unbonding: BTreeMap<usize, u128>,
    pub credits: BTreeMap<usize, u64>,
    pub queue: Vec<(u64, usize, u128)>,
    pub burned: u128,
    pub genesis: u128,
    pub min_fee: u128,
    pub price: u128,
    pub period: u64,
    pub fees_to: Option<usize>,
}

impl Model {
    pub fn new(
        balances: &[u128],
        min_fee: u128,
        price: u128,
        period: u64,
        fees_to: Option<usize>,
    ) -> Model {
        let mut m = Model {
            balance: BTreeMap::new(),
            nonce: BTreeMap::new(),
            bonded: BTreeMap::new(),
            unbonding: BTreeMap::new(),
            credits: BTreeMap::new(),
            queue: vec![],
            burned: 0,
            genesis: balances.iter().sum(),
            min_fee,
            price,
            period,
            fees_to,
        };
        for (i, b) in balances.iter().enumerate() {
            m.balance.insert(i, *b);
        }
        m
    }

    fn bal(&self, i: usize) -> u128 {
        self.balance.get(&i).copied().unwrap_or(0)
    }

    pub fn next_nonce(&self, i: usize) -> u64 {
        self.nonce.get(&i).copied().unwrap_or(0)
    }

    pub fn begin_block(&mut self, height: u64) {
        let due: Vec<_> = self
            .queue
            .iter()
            .filter(|(h, _, _)| *h == height)
            .cloned()
            .collect();
        self.queue.retain(|(h, _, _)| *h != height);
        for (_, who, amt) in due {
            let amt = amt.min(self.unbonding[&who]);
            *self.unbonding.get_mut(&who).unwrap() -= amt;
            *self.balance.entry(who).or_default() += amt;
        }
    }

    /// `Err(code)`: not includable; `Ok(code)`: included with that outcome.
    pub fn apply(
        &mut self,
        height: u64,
        signer: usize,
        nonce: u64,
        fee: u128,
        op: &Op,
    ) -> Result<String, String> {
        if fee < self.min_fee {
            return Err("fee_too_low".into());
        }
        let amount = match op {
            Op::Transfer { amount, .. } | Op::Bond { amount } | Op::Unbond { amount } => {
                Some(*amount)
            }
            _ => None,
        };
        if let Some(a) = amount {
            if a == 0 {
                return Err("zero_amount".into());
            }
            if a.checked_add(fee).is_none() {
                return Err("amount_overflow".into());
            }
        }
        let expected = self.next_nonce(signer);
        if nonce < expected {
            return Err("nonce_too_low".into());
        }
        if nonce > expected {
            return Err("nonce_too_high".into());
        }
        if self.bal(signer) < fee {
            return Err("insufficient_funds".into());
        }
        *self.balance.entry(signer).or_default() -= fee;
        *self.nonce.entry(signer).or_default() += 1;
        match self.fees_to {
            None => self.burned += fee,
            Some(p) => *self.balance.entry(p).or_default() += fee,
        }
        Ok(self.execute(height, signer, op))
    }

    fn execute(&mut self, height: u64, signer: usize, op: &Op) -> String {
        match op {
            Op::Transfer { to, amount } => {
                if self.bal(signer) < *amount {
                    return "insufficient_funds".into();
                }
                *self.balance.entry(signer).or_default() -= amount;
                *self.balance.entry(*to).or_default() += amount;
            }
            Op::Bond { amount } => {
                if self.bal(signer) < *amount {
                    return "insufficient_funds".into();
                }
                *self.balance.entry(signer).or_default() -= amount;
                *self.bonded.entry(signer).or_default() += amount;
            }
            Op::Unbond { amount } => {
                if self.bonded.get(&signer).copied().unwrap_or(0) < *amount {
                    return "insufficient_bonded".into();
                }
                *self.bonded.entry(signer).or_default() -= amount;
                *self.unbonding.entry(signer).or_default() += amount;
                self.queue.push((height + self.period, signer, *amount));
            }
            Op::Burn { credits } => {
                if *credits == 0 {
                    return "zero_credits".into();
                }
                let cost = u128::from(*credits) * self.price;
                if self.bal(signer) < cost {
                    return "insufficient_funds".into();
                }
                *self.balance.entry(signer).or_default() -= cost;
                self.burned += cost;
                *self.credits.entry(signer).or_default() += credits;
            }
            Op::Delegate { to, credits } => {
                if *credits == 0 {
                    return "zero_credits".into();
                }
                let have = self.credits.get(&signer).copied().unwrap_or(0);
                if have < *credits {
                    return "insufficient_credits".into();
                }
                *self.credits.entry(signer).or_default() -= credits;
                *self.credits.entry(*to).or_default() += credits;
            }
        }
        "success".into()
    }
}
