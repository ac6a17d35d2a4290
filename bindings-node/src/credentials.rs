//! The app's credentials resolver as core's `Credentials`: a JavaScript function from an account
//! id to its RunPod key, returning a string or null, or a promise of one. It is called on the
//! JavaScript thread, and its answer (or its promise's) read there: a rejection's `code` can
//! only be read from the error object itself.

use napi::bindgen_prelude::{CallbackContext, FromNapiValue, JsError, JsObjectValue, PromiseRaw};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, Status, Unknown, ValueType};
use std::cell::Cell;
use std::rc::Rc;
use tokio::sync::oneshot;
use trainpod::{Error, ErrorKind};

/// The function as napi holds it: called with the account id, what it returned handed back on
/// the JavaScript thread. Weak: a `Trainpod` with a resolver never keeps Node running.
pub(crate) type Resolver =
    ThreadsafeFunction<String, Unknown<'static>, String, Status, false, true>;

/// The `credentials` function the app passed to `Trainpod.create`.
pub(crate) struct JsCredentials(pub(crate) Resolver);

/// The key, or why there is none: an error with one of trainpod's codes, or what went wrong.
type Answer = Result<Option<String>, Failure>;

enum Failure {
    Coded(ErrorKind, String),
    Other(String),
}
type Reply = Rc<Cell<Option<oneshot::Sender<Answer>>>>;

#[async_trait::async_trait]
impl trainpod::sdk::Credentials for JsCredentials {
    async fn runpod_api_key(&self, account: &str) -> trainpod::Result<Option<String>> {
        let failed = |why: Failure| match why {
            Failure::Coded(kind, message) => Error::new(kind, message),
            Failure::Other(what) => Error::new(
                ErrorKind::CredentialsUnavailable,
                format!(
                    "the app's credentials resolver failed for account {account:?}: {what}; check \
                     the app's secrets store, then retry"
                ),
            ),
        };
        let (tx, rx) = oneshot::channel();
        let status = self.0.call_with_return_value(
            account.to_owned(),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |returned, env| {
                settle(&env, returned, tx);
                Ok(())
            },
        );
        if status != Status::Ok {
            return Err(failed(other(format!(
                "it could not be called ({status}): Node is shutting down"
            ))));
        }
        let answer = rx
            .await
            .unwrap_or_else(|_| Err(other("it never answered: Node is shutting down")));
        answer.map_err(failed)
    }
}

/// What the function returned (or threw), settled now or when its promise settles.
fn settle(env: &Env, returned: napi::Result<Unknown<'_>>, tx: oneshot::Sender<Answer>) {
    let value = match returned {
        Ok(value) => value,
        Err(thrown) => {
            let _ = tx.send(Err(rejected(JsError::from(thrown).into_unknown(*env))));
            return;
        }
    };
    if !value.is_promise().unwrap_or(false) {
        let _ = tx.send(key_of(value));
        return;
    }
    let reply: Reply = Rc::new(Cell::new(Some(tx)));
    let (on_value, on_error) = (reply.clone(), reply.clone());
    let chained = PromiseRaw::<Unknown<'_>>::from_unknown(value).and_then(|promise| {
        promise
            .then(move |ctx: CallbackContext<Unknown<'_>>| {
                send(&on_value, key_of(ctx.value));
                Ok(())
            })?
            .catch(move |ctx: CallbackContext<Unknown<'_>>| {
                send(&on_error, Err(rejected(ctx.value)));
                Ok(())
            })
    });
    if let Err(e) = chained {
        send(
            &reply,
            Err(other(format!("its promise could not be awaited: {e}"))),
        );
    }
}

fn send(reply: &Reply, answer: Answer) {
    if let Some(tx) = reply.take() {
        let _ = tx.send(answer);
    }
}

/// The key: a string, or null / undefined for an account without one.
fn key_of(value: Unknown<'_>) -> Answer {
    match value.get_type() {
        Ok(ValueType::Null | ValueType::Undefined) => Ok(None),
        Ok(ValueType::String) => String::from_unknown(value)
            .map(Some)
            .map_err(|e| other(format!("its string could not be read: {e}"))),
        Ok(kind) => Err(other(format!(
            "it returned a value of type {}, not a string or null",
            format!("{kind:?}").to_lowercase()
        ))),
        Err(e) => Err(other(format!("its answer could not be read: {e}"))),
    }
}

/// What it threw or rejected with: an error carrying one of trainpod's codes keeps it, anything
/// else is the app's secrets store failing. Only the error's name and message are kept.
fn rejected(reason: Unknown<'_>) -> Failure {
    let object = match reason.get_type() {
        Ok(ValueType::Object) => reason.coerce_to_object().ok(),
        _ => None,
    };
    let Some(object) = object else {
        return match text_of(reason) {
            Some(text) => other(format!("it threw {text:?}")),
            None => other("it threw a value that is neither an Error nor text"),
        };
    };
    let field = |name: &str| {
        object
            .get_named_property::<Unknown<'_>>(name)
            .ok()
            .and_then(text_of)
    };
    let message = field("message").unwrap_or_default();
    if let Some(kind) = field("code").as_deref().and_then(ErrorKind::from_code) {
        return Failure::Coded(kind, message);
    }
    let name = field("name").unwrap_or_else(|| "an object".to_owned());
    other(format!("it threw {name}: {message}"))
}

/// A string value as it is; a number or boolean as JavaScript prints it; nothing else.
fn text_of(value: Unknown<'_>) -> Option<String> {
    match value.get_type().ok()? {
        ValueType::String => String::from_unknown(value).ok(),
        ValueType::Number | ValueType::Boolean => {
            String::from_unknown(value.coerce_to_string().ok()?.to_unknown()).ok()
        }
        _ => None,
    }
}

fn other(what: impl std::fmt::Display) -> Failure {
    Failure::Other(what.to_string())
}
