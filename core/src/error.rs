//! One error model for every part of trainpod and every language binding.
//!
//! Each failure has an [`ErrorKind`] with a stable `SCREAMING_SNAKE` code that the Python and Node
//! bindings expose unchanged, the HTTP status and request id of the upstream response where there
//! was one, whether a retry can help, and a message that says what to do next.

use std::fmt;

/// What went wrong, as a stable code shared by Rust, Python and Node.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename_all = "SCREAMING_SNAKE_CASE")
)]
pub enum ErrorKind {
    /// An argument or configuration value is invalid; the message names it and the valid range.
    InvalidInput,
    /// The token is not a well-formed trainpod token (size, shape, encoding or JSON).
    TokenMalformed,
    /// The token's version prefix is not one this build verifies.
    TokenUnsupportedVersion,
    /// The token names a signing key id that the key ring does not hold.
    TokenUnknownKey,
    /// The token was signed with a key that has been retired.
    TokenKeyRetired,
    /// The token's signature does not match: it was altered or signed with another key.
    TokenSignatureInvalid,
    /// The token is authentic but was issued for another purpose.
    TokenWrongPurpose,
    /// The token is authentic but was issued for another audience (app origin).
    TokenWrongAudience,
    /// The token is authentic but was issued by another issuer.
    TokenWrongIssuer,
    /// The token is authentic but names another job, dataset or user than the request.
    TokenScopeMismatch,
    /// The token's expiry has passed.
    TokenExpired,
    /// The token's not-before time has not come yet.
    TokenNotYetValid,
    /// The token's lifetime exceeds the cap for its purpose.
    TokenLifetimeExceeded,
    /// A single-use token was presented a second time.
    TokenAlreadyUsed,
    /// The route requires a token and the request carried none.
    TokenMissing,
    /// A metric batch reused a sequence number with a different body, or sent a new number far
    /// outside the attempt's window of numbers.
    SequenceConflict,
    /// The store (SQLite or Postgres) failed or could not be reached.
    StoreUnavailable,
    /// The store's schema is newer than this build, or a migration failed.
    StoreSchema,
    /// The RunPod API key, or an object store's access key and secret, is missing or was refused.
    AuthInvalid,
    /// The app's credentials resolver failed to give an account's RunPod key (it raised or
    /// rejected): its secrets store may be down. Retry once it answers.
    CredentialsUnavailable,
    /// The RunPod account has too little balance for the request.
    InsufficientBalance,
    /// The RunPod API or an object store refused the request for this key (for example a pod key
    /// acting on another pod, or a storage key without write access to the bucket).
    Forbidden,
    /// The requested resource does not exist.
    NotFound,
    /// The action is not valid in the resource's current state.
    InvalidState,
    /// No GPU of the requested types is available.
    CapacityUnavailable,
    /// The upstream API asked us to slow down.
    RateLimited,
    /// The upstream API failed on its side.
    ServerError,
    /// The request did not reach the upstream API or its answer was cut off.
    Transport,
    /// An operation did not finish in time.
    Timeout,
    /// The dataset failed validation.
    DatasetInvalid,
    /// A URL the pod must reach is not reachable from a pod.
    UrlUnreachableFromPod,
    /// No dataset with this id is staged (never was, or was deleted after its URL was issued).
    DatasetNotFound,
    /// The dataset's file is not a plain file beneath the staging root (a symlink, a hard link,
    /// a directory or device, another mount): it is refused, never opened for reading.
    DatasetPathUnsafe,
    /// A webhook request lacks a Standard Webhooks header (`webhook-id`, `webhook-timestamp`,
    /// `webhook-signature`), or one of them, or its body, is not in the form the scheme sends.
    WebhookMalformed,
    /// A webhook's `webhook-timestamp` is further from now than the tolerance allows: a replay
    /// of an old delivery, or a clock far off.
    WebhookTimestampOutOfRange,
    /// No signature in a webhook's `webhook-signature` matches its id, timestamp and body under
    /// any of the secrets given: it was altered, or signed with another secret.
    WebhookSignatureInvalid,
    /// A bug in trainpod: the message says what to report.
    Internal,
}

impl ErrorKind {
    /// Every kind, so that the bindings can prove each one maps to its own class or code.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::InvalidInput,
        ErrorKind::TokenMalformed,
        ErrorKind::TokenUnsupportedVersion,
        ErrorKind::TokenUnknownKey,
        ErrorKind::TokenKeyRetired,
        ErrorKind::TokenSignatureInvalid,
        ErrorKind::TokenWrongPurpose,
        ErrorKind::TokenWrongAudience,
        ErrorKind::TokenWrongIssuer,
        ErrorKind::TokenScopeMismatch,
        ErrorKind::TokenExpired,
        ErrorKind::TokenNotYetValid,
        ErrorKind::TokenLifetimeExceeded,
        ErrorKind::TokenAlreadyUsed,
        ErrorKind::TokenMissing,
        ErrorKind::SequenceConflict,
        ErrorKind::StoreUnavailable,
        ErrorKind::StoreSchema,
        ErrorKind::AuthInvalid,
        ErrorKind::CredentialsUnavailable,
        ErrorKind::InsufficientBalance,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::InvalidState,
        ErrorKind::CapacityUnavailable,
        ErrorKind::RateLimited,
        ErrorKind::ServerError,
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::DatasetInvalid,
        ErrorKind::UrlUnreachableFromPod,
        ErrorKind::DatasetNotFound,
        ErrorKind::DatasetPathUnsafe,
        ErrorKind::WebhookMalformed,
        ErrorKind::WebhookTimestampOutOfRange,
        ErrorKind::WebhookSignatureInvalid,
        ErrorKind::Internal,
    ];

    /// The stable code, identical in every language. Never changes once released.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "INVALID_INPUT",
            ErrorKind::TokenMalformed => "TOKEN_MALFORMED",
            ErrorKind::TokenUnsupportedVersion => "TOKEN_UNSUPPORTED_VERSION",
            ErrorKind::TokenUnknownKey => "TOKEN_UNKNOWN_KEY",
            ErrorKind::TokenKeyRetired => "TOKEN_KEY_RETIRED",
            ErrorKind::TokenSignatureInvalid => "TOKEN_SIGNATURE_INVALID",
            ErrorKind::TokenWrongPurpose => "TOKEN_WRONG_PURPOSE",
            ErrorKind::TokenWrongAudience => "TOKEN_WRONG_AUDIENCE",
            ErrorKind::TokenWrongIssuer => "TOKEN_WRONG_ISSUER",
            ErrorKind::TokenScopeMismatch => "TOKEN_SCOPE_MISMATCH",
            ErrorKind::TokenExpired => "TOKEN_EXPIRED",
            ErrorKind::TokenNotYetValid => "TOKEN_NOT_YET_VALID",
            ErrorKind::TokenLifetimeExceeded => "TOKEN_LIFETIME_EXCEEDED",
            ErrorKind::TokenAlreadyUsed => "TOKEN_ALREADY_USED",
            ErrorKind::TokenMissing => "TOKEN_MISSING",
            ErrorKind::SequenceConflict => "SEQUENCE_CONFLICT",
            ErrorKind::StoreUnavailable => "STORE_UNAVAILABLE",
            ErrorKind::StoreSchema => "STORE_SCHEMA",
            ErrorKind::AuthInvalid => "AUTH_INVALID",
            ErrorKind::CredentialsUnavailable => "CREDENTIALS_UNAVAILABLE",
            ErrorKind::InsufficientBalance => "INSUFFICIENT_BALANCE",
            ErrorKind::Forbidden => "FORBIDDEN",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::InvalidState => "INVALID_STATE",
            ErrorKind::CapacityUnavailable => "CAPACITY_UNAVAILABLE",
            ErrorKind::RateLimited => "RATE_LIMITED",
            ErrorKind::ServerError => "SERVER_ERROR",
            ErrorKind::Transport => "TRANSPORT",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::DatasetInvalid => "DATASET_INVALID",
            ErrorKind::UrlUnreachableFromPod => "URL_UNREACHABLE_FROM_POD",
            ErrorKind::DatasetNotFound => "DATASET_NOT_FOUND",
            ErrorKind::DatasetPathUnsafe => "DATASET_PATH_UNSAFE",
            ErrorKind::WebhookMalformed => "WEBHOOK_MALFORMED",
            ErrorKind::WebhookTimestampOutOfRange => "WEBHOOK_TIMESTAMP_OUT_OF_RANGE",
            ErrorKind::WebhookSignatureInvalid => "WEBHOOK_SIGNATURE_INVALID",
            ErrorKind::Internal => "INTERNAL",
        }
    }

    /// The kind with this code, if any.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// The group the kind belongs to: the class (Python, Node) an app catches it by.
    pub const fn group(self) -> ErrorGroup {
        match self {
            ErrorKind::InvalidInput
            | ErrorKind::DatasetInvalid
            | ErrorKind::UrlUnreachableFromPod => ErrorGroup::InvalidInput,
            ErrorKind::TokenMalformed
            | ErrorKind::TokenUnsupportedVersion
            | ErrorKind::TokenUnknownKey
            | ErrorKind::TokenKeyRetired
            | ErrorKind::TokenSignatureInvalid
            | ErrorKind::TokenWrongPurpose
            | ErrorKind::TokenWrongAudience
            | ErrorKind::TokenWrongIssuer
            | ErrorKind::TokenScopeMismatch
            | ErrorKind::TokenExpired
            | ErrorKind::TokenNotYetValid
            | ErrorKind::TokenLifetimeExceeded
            | ErrorKind::TokenAlreadyUsed
            | ErrorKind::TokenMissing => ErrorGroup::Token,
            ErrorKind::SequenceConflict => ErrorGroup::SequenceConflict,
            ErrorKind::StoreUnavailable | ErrorKind::StoreSchema => ErrorGroup::Store,
            ErrorKind::AuthInvalid
            | ErrorKind::CredentialsUnavailable
            | ErrorKind::InsufficientBalance
            | ErrorKind::Forbidden
            | ErrorKind::NotFound
            | ErrorKind::InvalidState
            | ErrorKind::CapacityUnavailable
            | ErrorKind::RateLimited
            | ErrorKind::ServerError
            | ErrorKind::Transport
            | ErrorKind::Timeout => ErrorGroup::Api,
            ErrorKind::DatasetNotFound | ErrorKind::DatasetPathUnsafe => ErrorGroup::Dataset,
            ErrorKind::WebhookMalformed
            | ErrorKind::WebhookTimestampOutOfRange
            | ErrorKind::WebhookSignatureInvalid => ErrorGroup::Webhook,
            ErrorKind::Internal => ErrorGroup::Internal,
        }
    }

    /// Whether the kind is a refused token (every such failure answers 401 or 403 outward).
    pub const fn is_token_error(self) -> bool {
        matches!(self.group(), ErrorGroup::Token)
    }

    /// Whether trying the same call again later can succeed without changing anything.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::StoreUnavailable
                | ErrorKind::CredentialsUnavailable
                | ErrorKind::CapacityUnavailable
                | ErrorKind::RateLimited
                | ErrorKind::ServerError
                | ErrorKind::Transport
                | ErrorKind::Timeout
        )
    }

    /// The HTTP status an app route should answer with when this error ends a request.
    ///
    /// Token failures answer 401 when the caller could not be identified and 403 when an
    /// authentic token does not grant this request; the specific reason stays in server logs.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidInput
            | ErrorKind::DatasetInvalid
            | ErrorKind::UrlUnreachableFromPod
            | ErrorKind::WebhookMalformed => 400,
            ErrorKind::TokenMalformed
            | ErrorKind::TokenUnsupportedVersion
            | ErrorKind::TokenUnknownKey
            | ErrorKind::TokenKeyRetired
            | ErrorKind::TokenSignatureInvalid
            | ErrorKind::TokenExpired
            | ErrorKind::TokenNotYetValid
            | ErrorKind::TokenLifetimeExceeded
            | ErrorKind::TokenMissing
            | ErrorKind::AuthInvalid
            | ErrorKind::WebhookTimestampOutOfRange
            | ErrorKind::WebhookSignatureInvalid => 401,
            ErrorKind::TokenWrongPurpose
            | ErrorKind::TokenWrongAudience
            | ErrorKind::TokenWrongIssuer
            | ErrorKind::TokenScopeMismatch
            | ErrorKind::TokenAlreadyUsed
            | ErrorKind::Forbidden
            | ErrorKind::DatasetPathUnsafe => 403,
            ErrorKind::InsufficientBalance => 402,
            ErrorKind::NotFound | ErrorKind::DatasetNotFound => 404,
            ErrorKind::SequenceConflict | ErrorKind::InvalidState => 409,
            ErrorKind::RateLimited => 429,
            ErrorKind::CapacityUnavailable
            | ErrorKind::StoreUnavailable
            | ErrorKind::CredentialsUnavailable => 503,
            ErrorKind::Timeout => 504,
            ErrorKind::ServerError | ErrorKind::Transport => 502,
            ErrorKind::StoreSchema | ErrorKind::Internal => 500,
        }
    }
}

/// A group of error kinds that an app handles alike: each binding has one class per group
/// (`TokenError`, `ApiError`, ...), the parent of its kinds' classes, generated from this list.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ErrorGroup {
    /// An argument, a dataset or a URL is invalid: the message names it and what is accepted.
    InvalidInput,
    /// A token was refused: answer 401 or 403; the code is for logs.
    Token,
    /// A metric batch conflicts with one already received under its sequence number.
    SequenceConflict,
    /// The store (SQLite or Postgres) failed.
    Store,
    /// RunPod (or an object store) refused or failed a request.
    Api,
    /// A staged dataset cannot be served: it is not there, or its file is not safe to open.
    Dataset,
    /// A webhook failed verification: answer it with 400 or 401; the code is for logs.
    Webhook,
    /// A bug in trainpod.
    Internal,
}

impl ErrorGroup {
    /// Every group, in the order of their first kind in [`ErrorKind::ALL`].
    pub const ALL: &'static [ErrorGroup] = &[
        ErrorGroup::InvalidInput,
        ErrorGroup::Token,
        ErrorGroup::SequenceConflict,
        ErrorGroup::Store,
        ErrorGroup::Api,
        ErrorGroup::Dataset,
        ErrorGroup::Webhook,
        ErrorGroup::Internal,
    ];

    /// The name of the group's class in every binding. Never changes once released.
    pub const fn class_name(self) -> &'static str {
        match self {
            ErrorGroup::InvalidInput => "InvalidInputError",
            ErrorGroup::Token => "TokenError",
            ErrorGroup::SequenceConflict => "SequenceConflictError",
            ErrorGroup::Store => "StoreError",
            ErrorGroup::Api => "ApiError",
            ErrorGroup::Dataset => "DatasetError",
            ErrorGroup::Webhook => "WebhookError",
            ErrorGroup::Internal => "InternalError",
        }
    }

    /// The group's kinds, in the order of [`ErrorKind::ALL`].
    pub fn kinds(self) -> impl Iterator<Item = ErrorKind> {
        ErrorKind::ALL
            .iter()
            .copied()
            .filter(move |k| k.group() == self)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The most characters [`quote`] renders, escapes included.
pub const MAX_QUOTED_CHARS: usize = 64;

/// `s` as an error message may show it: in double quotes, Rust-escaped (control characters,
/// escape sequences, quotes and backslashes, invisible and bidirectional characters written as
/// escapes), cut at [`MAX_QUOTED_CHARS`] characters with `…` after the quote.
///
/// Messages reach logs, terminals and web pages, and what a pod or a caller sent may carry a
/// newline that forges a log line, an escape sequence that rewrites a terminal, or megabytes:
/// input is only ever shown through this. Never pass it a secret; name the field instead.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(MAX_QUOTED_CHARS.min(s.len()) + 8);
    out.push('"');
    let mut shown = 0;
    let mut cut = false;
    for c in s.chars() {
        let escaped = c.escape_debug();
        let len = escaped.len();
        if shown + len > MAX_QUOTED_CHARS {
            cut = true;
            break;
        }
        out.extend(escaped);
        shown += len;
    }
    out.push('"');
    if cut {
        out.push('…');
    }
    out
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A trainpod error: a kind, a message that says what to do next, and upstream HTTP facts.
///
/// Messages never carry secrets: callers build them from validated, non-secret values only.
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    request_id: Option<String>,
    retry_after_secs: Option<u64>,
    source: Option<Source>,
}

/// `Result` with trainpod's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` whose message says what happened and what to do next.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            request_id: None,
            retry_after_secs: None,
            source: None,
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Attach the HTTP status of the upstream response.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Attach the upstream request id, for support tickets.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Attach how long the upstream asked us to wait before retrying.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong, as a stable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code of [`Error::kind`].
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The message: what happened and what to do next.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of the upstream response, where there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The upstream request id, where there was one.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Seconds the upstream asked us to wait, where it said.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_secs
    }

    /// Whether the same call can succeed later without changing anything.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The messages of the cause chain, outermost first, for bindings that chain causes.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(err) = next {
            out.push(err.to_string());
            next = err.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status}")?;
            if let Some(id) = &self.request_id {
                write!(f, ", request id {id}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_screaming_snake_and_round_trip() {
        let mut seen = HashSet::new();
        for kind in ErrorKind::ALL {
            let code = kind.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{code} is not SCREAMING_SNAKE"
            );
            assert_eq!(ErrorKind::from_code(code), Some(*kind));
        }
        assert_eq!(ErrorKind::from_code("NOPE"), None);
    }

    #[test]
    fn every_group_has_kinds_and_lists_them_in_order() {
        let mut seen = Vec::new();
        for kind in ErrorKind::ALL {
            if !seen.contains(&kind.group()) {
                seen.push(kind.group());
            }
        }
        assert_eq!(
            seen,
            ErrorGroup::ALL,
            "ErrorGroup::ALL is in first-kind order"
        );
        let names: HashSet<_> = ErrorGroup::ALL.iter().map(|g| g.class_name()).collect();
        assert_eq!(
            names.len(),
            ErrorGroup::ALL.len(),
            "two groups share a class name"
        );
        for kind in ErrorKind::ALL {
            let group = kind.group();
            assert_eq!(kind.is_token_error(), group == ErrorGroup::Token, "{kind}");
            assert_eq!(
                kind.code().starts_with("TOKEN_"),
                group == ErrorGroup::Token,
                "{kind}"
            );
            assert_eq!(
                kind.code().starts_with("STORE_"),
                group == ErrorGroup::Store,
                "{kind}"
            );
        }
    }

    #[test]
    fn token_errors_answer_401_or_403() {
        for kind in ErrorKind::ALL.iter().filter(|k| k.is_token_error()) {
            assert!(matches!(kind.http_status(), 401 | 403), "{kind}");
            assert!(!kind.is_retryable(), "{kind} must not be retryable");
        }
    }

    #[test]
    fn display_carries_code_status_and_request_id() {
        let err = Error::new(ErrorKind::RateLimited, "slow down; retry after 3 s")
            .with_status(429)
            .with_request_id("req-1")
            .with_retry_after(3);
        assert_eq!(
            err.to_string(),
            "RATE_LIMITED: slow down; retry after 3 s (HTTP 429, request id req-1)"
        );
        assert!(err.is_retryable());
        assert_eq!(err.retry_after_secs(), Some(3));
    }

    #[test]
    fn quote_escapes_and_bounds_what_it_shows() {
        assert_eq!(quote("job-1"), "\"job-1\"");
        let forged = quote("j\nINFO ok\u{1b}[2J\"\\\u{202e}");
        assert_eq!(forged, r#""j\nINFO ok\u{1b}[2J\"\\\u{202e}""#);
        assert!(!forged.chars().any(char::is_control), "{forged}");
        let long = quote(&"x".repeat(10_000));
        assert_eq!(long, format!("\"{}\"…", "x".repeat(MAX_QUOTED_CHARS)));
        // An escape is never cut in half.
        let escapes = quote(&"\u{1b}".repeat(100));
        assert!(escapes.ends_with("\\u{1b}\"…"), "{escapes}");
        assert!(escapes.chars().count() <= MAX_QUOTED_CHARS + 3);
    }

    #[test]
    fn cause_chain_is_reported() {
        let io = std::io::Error::other("disk on fire");
        let err =
            Error::new(ErrorKind::StoreUnavailable, "could not open the store").with_source(io);
        assert_eq!(err.causes(), vec!["disk on fire".to_string()]);
    }
}
