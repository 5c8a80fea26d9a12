//! Billing's settings: clap flags with env fallbacks. Secrets are wrapped in [`Secret`], whose
//! `Debug` and `Display` never show them, and clap is told to hide their env values.

use std::fmt;

/// A secret from the configuration: usable, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The platform's Stripe settings. Without a secret key, top-ups are off.
#[derive(Debug, Clone, clap::Args)]
pub struct BillingArgs {
    /// The platform's Stripe secret key.
    #[arg(long, env = "COINSENCE_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<Secret>,
    /// Webhook signing secrets, comma-separated: two while one is being rolled.
    #[arg(
        long,
        env = "COINSENCE_STRIPE_WEBHOOK_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub stripe_webhook_secrets: Vec<Secret>,
    /// The platform's fee on each top-up, in basis points (100 = 1 %), taken as an application
    /// fee.
    #[arg(long, env = "COINSENCE_STRIPE_FEE_BP", default_value_t = 100)]
    pub stripe_fee_bp: u32,
    /// Stripe's API base URL (tests point it at a fake).
    #[arg(
        long,
        env = "COINSENCE_STRIPE_API_BASE",
        default_value = "https://api.stripe.com/"
    )]
    pub stripe_api_base: String,
    /// Where Checkout and onboarding send people back to (the portal's address).
    #[arg(
        long,
        env = "COINSENCE_BILLING_RETURN_URL",
        default_value = "http://localhost:8080/"
    )]
    pub billing_return_url: String,
}

impl BillingArgs {
    /// Whether Stripe is configured (a secret key and at least one webhook secret).
    pub fn configured(&self) -> bool {
        self.stripe_secret_key.is_some() && !self.stripe_webhook_secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("sk_test_very_secret");
        assert!(!format!("{secret:?} {secret}").contains("very_secret"));
        let args = BillingArgs {
            stripe_secret_key: Some(secret.clone()),
            stripe_webhook_secrets: vec![Secret::new("whsec_also_secret")],
            stripe_fee_bp: 100,
            stripe_api_base: "http://127.0.0.1:1/".to_owned(),
            billing_return_url: "http://localhost/".to_owned(),
        };
        let shown = format!("{args:?}");
        assert!(
            !shown.contains("very_secret") && !shown.contains("also_secret"),
            "{shown}"
        );
    }
}
