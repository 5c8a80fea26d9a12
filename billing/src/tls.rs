//! The process's TLS crypto provider.

/// Installs rustls's ring provider as the process default, once; a provider already installed
/// stays. Needed because the workspace enables both of rustls's providers (ring through
/// async-stripe, aws-lc-rs through other TLS users), and rustls then refuses to choose.
pub fn install_crypto_provider() {
    // An error only says a provider is installed already: that one serves.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
