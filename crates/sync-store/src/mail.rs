//! Email over SMTP with lettre (tokio, rustls).

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{Result, StoreError};
use crate::notify::{Email, MailError, Mailer};

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a relay on loopback, a test sink). Never with credentials over a network.
    None,
    /// STARTTLS required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where and how to send notification email.
#[derive(Clone)]
#[non_exhaustive]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, SecretString)>,
    /// The From address, e.g. `Quip sync <sync@example.com>`.
    pub from: String,
    /// Timeout of each SMTP command (10 s).
    pub timeout: Duration,
}

impl SmtpConfig {
    /// A server without credentials.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        security: SmtpSecurity,
        from: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            security,
            credentials: None,
            from: from.into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// With a user name and password.
    #[must_use]
    pub fn with_credentials(mut self, user: impl Into<String>, password: SecretString) -> Self {
        self.credentials = Some((user.into(), password));
        self
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// A [`Mailer`] over SMTP.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config` (connects on each send).
    pub fn new(config: &SmtpConfig) -> Result<Self> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| StoreError::invalid("email sender", format!("{e}")))?;
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls | SmtpSecurity::Tls => {
                let params = TlsParameters::new(config.host.clone())
                    .map_err(|e| StoreError::invalid("SMTP TLS", e.to_string()))?;
                if config.security == SmtpSecurity::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
                .port(config.port)
                .timeout(Some(config.timeout))
                .tls(tls);
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Mailbox = email.to.parse().map_err(|e| MailError {
            permanent: true,
            message: format!("recipient `{}`: {e}", email.to.escape_debug()),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| MailError {
                permanent: true,
                message: format!("cannot build the message: {e}"),
            })?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| MailError {
                permanent: e.is_permanent(),
                message: format!("SMTP: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_smtp_password() {
        let config = SmtpConfig::new(
            "smtp.example.com",
            587,
            SmtpSecurity::StartTls,
            "a@example.com",
        )
        .with_credentials("mailer", SecretString::from("smtp-pass-3141"));
        let mailer = SmtpMailer::new(&config).expect("mailer");
        let shown = format!("{config:?} {mailer:?}");
        assert!(
            shown.contains("mailer") && !shown.contains("smtp-pass-3141"),
            "{shown}"
        );
        assert!(
            SmtpMailer::new(&SmtpConfig::new(
                "h",
                25,
                SmtpSecurity::None,
                "not an address"
            ))
            .is_err()
        );
    }
}
