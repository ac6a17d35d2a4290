//! Settings: each one from its flag, else its environment variable, else the config file
//! (`--config PATH`, else `$TRAINPOD_CONFIG`, else `$XDG_CONFIG_HOME/trainpod/config.toml` or
//! `~/.config/trainpod/config.toml`). The two secrets (the RunPod key and the signing keys) are
//! held in [`Secret`], whose `Debug` shows no value, and no error here quotes a line of the file.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use trainpod::script::PodRuntime;
use trainpod::sdk::{API_KEY_ENV, HUB_URL_ENV, SIGNING_KEYS_ENV, Trainpod};
use trainpod::token::KeyRing;
use trainpod::{Error, ErrorKind, Result};

/// The config file named by the environment when `--config` is not given.
pub const CONFIG_ENV: &str = "TRAINPOD_CONFIG";

/// The flags every command shares (besides `--json`).
#[derive(Args, Debug, Default)]
#[command(next_help_heading = "Settings")]
pub struct SettingsArgs {
    /// The config file (TOML) [default: $TRAINPOD_CONFIG, else
    /// $XDG_CONFIG_HOME/trainpod/config.toml, else ~/.config/trainpod/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The job store: sqlite://PATH, postgres://... or memory: [env: TRAINPOD_STORE_URL]
    /// [default: sqlite://$XDG_DATA_HOME/trainpod/trainpod.db]
    #[arg(long, global = true, value_name = "URL")]
    pub store_url: Option<String>,
    /// Use the local provider at URL (what `trainpod local` printed) instead of RunPod
    /// [env: TRAINPOD_LOCAL_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub local_url: Option<String>,
    /// Another RunPod REST v2 base URL (a proxy) [env: TRAINPOD_RUNPOD_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub runpod_url: Option<String>,
    /// Where pods reach your app's trainpod routes, when one runs [env: TRAINPOD_APP_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub app_url: Option<String>,
    /// The app's datasets directory (app-served datasets) [env: TRAINPOD_DATASETS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub datasets_dir: Option<PathBuf>,
    /// The app's artifacts directory [env: TRAINPOD_ARTIFACTS_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,
    /// The Python interpreter pods run (the local provider: a venv with the training stack)
    /// [env: TRAINPOD_POD_PYTHON]
    #[arg(long, global = true, value_name = "PATH")]
    pub pod_python: Option<String>,
    /// The Hugging Face Hub `plan` checks model ids against [env: HF_ENDPOINT]
    #[arg(long, global = true, value_name = "URL")]
    pub hub_url: Option<String>,
}

/// A secret setting: its `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What the config file may hold: the settings by the same names as the flags, and a
/// `[pod_runtime]` table of `PodRuntime` fields laid over its defaults.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    runpod_api_key: Option<String>,
    signing_keys: Option<String>,
    store_url: Option<String>,
    local_url: Option<String>,
    runpod_url: Option<String>,
    app_url: Option<String>,
    datasets_dir: Option<PathBuf>,
    artifacts_dir: Option<PathBuf>,
    pod_python: Option<String>,
    hub_url: Option<String>,
    pod_runtime: Option<toml::Table>,
}

/// Every setting, resolved.
#[derive(Debug, Default)]
pub struct Settings {
    /// The config file read, if one was.
    pub config_path: Option<PathBuf>,
    pub runpod_api_key: Option<Secret>,
    pub signing_keys: Option<Secret>,
    pub store_url: String,
    pub local_url: Option<String>,
    pub runpod_url: Option<String>,
    pub app_url: Option<String>,
    pub datasets_dir: Option<PathBuf>,
    pub artifacts_dir: Option<PathBuf>,
    pub pod_python: Option<String>,
    pub hub_url: Option<String>,
    pub pod_runtime: Option<serde_json::Value>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_path(name: &str) -> Option<PathBuf> {
    env(name).map(PathBuf::from)
}

impl Settings {
    /// Flags over the environment over the config file.
    pub fn resolve(args: &SettingsArgs) -> Result<Settings> {
        let (config_path, file) = read_config(args.config.as_deref())?;
        let store_url = match args
            .store_url
            .clone()
            .or_else(|| env("TRAINPOD_STORE_URL"))
            .or(file.store_url)
        {
            Some(url) => url,
            None => default_store_url()?,
        };
        let pod_runtime = file
            .pod_runtime
            .map(|t| serde_json::to_value(t).map_err(|e| invalid(format!("[pod_runtime]: {e}"))))
            .transpose()?;
        Ok(Settings {
            config_path,
            runpod_api_key: env(API_KEY_ENV).or(file.runpod_api_key).map(Secret),
            signing_keys: env(SIGNING_KEYS_ENV).or(file.signing_keys).map(Secret),
            store_url,
            local_url: args
                .local_url
                .clone()
                .or_else(|| env("TRAINPOD_LOCAL_URL"))
                .or(file.local_url),
            runpod_url: args
                .runpod_url
                .clone()
                .or_else(|| env("TRAINPOD_RUNPOD_URL"))
                .or(file.runpod_url),
            app_url: args
                .app_url
                .clone()
                .or_else(|| env("TRAINPOD_APP_URL"))
                .or(file.app_url),
            datasets_dir: args
                .datasets_dir
                .clone()
                .or_else(|| env_path("TRAINPOD_DATASETS_DIR"))
                .or(file.datasets_dir),
            artifacts_dir: args
                .artifacts_dir
                .clone()
                .or_else(|| env_path("TRAINPOD_ARTIFACTS_DIR"))
                .or(file.artifacts_dir),
            pod_python: args
                .pod_python
                .clone()
                .or_else(|| env("TRAINPOD_POD_PYTHON"))
                .or(file.pod_python),
            hub_url: args
                .hub_url
                .clone()
                .or_else(|| env(HUB_URL_ENV))
                .or(file.hub_url),
            pod_runtime,
        })
    }

    /// The RunPod key to use: the local provider's own when it is the provider and none was
    /// given.
    pub fn api_key(&self) -> Option<&str> {
        match (&self.runpod_api_key, &self.local_url) {
            (Some(key), _) => Some(key.expose()),
            (None, Some(_)) => Some(trainpod_emulator::ACCOUNT_KEY),
            (None, None) => None,
        }
    }

    /// The key ring, or what to do to get one.
    pub fn key_ring(&self) -> Result<KeyRing> {
        let spec = self.signing_keys.as_ref().ok_or_else(|| {
            invalid(
                "no signing keys: run `trainpod keys new` and set TRAINPOD_SIGNING_KEYS to what \
                 it prints (or `signing_keys` in the config file)"
                    .into(),
            )
        })?;
        KeyRing::parse(spec.expose())
    }

    /// The SDK, built from these settings (every setting checked by core's builder).
    pub async fn sdk(&self) -> Result<Trainpod> {
        let keys = self.key_ring()?;
        let key = self.api_key().ok_or_else(|| {
            Error::new(
                ErrorKind::AuthInvalid,
                "no RunPod API key: set RUNPOD_API_KEY (create one at \
                 https://www.runpod.io/console/user/settings) or `runpod_api_key` in the config \
                 file; or use the local provider (`trainpod local`, then --local-url)",
            )
        })?;
        let mut b = Trainpod::builder().ignore_env().signing_keys(keys);
        b = match &self.local_url {
            Some(url) => b.local_provider(url, key),
            None => b.runpod_api_key(key),
        };
        if let (Some(url), None) = (&self.runpod_url, &self.local_url) {
            b = b.runpod_base_url(url);
        }
        b = b.store_url(&self.store_url);
        if let Some(url) = &self.app_url {
            b = b.app_url(url);
        }
        if let Some(dir) = &self.datasets_dir {
            b = b.datasets_dir(dir);
        }
        if let Some(dir) = &self.artifacts_dir {
            b = b.artifacts_dir(dir);
        }
        if let Some(url) = &self.hub_url {
            b = b.hub_url(url);
        }
        if let Some(runtime) = self.pod_runtime()? {
            b = b.pod_runtime(runtime);
        }
        b.build().await
    }

    /// How pods run, when anything differs from core's defaults: the local provider's pods run
    /// on this machine's CPU with its disk, then the config's `[pod_runtime]`, then
    /// `--pod-python`.
    fn pod_runtime(&self) -> Result<Option<PodRuntime>> {
        let local = self.local_url.is_some();
        if !local && self.pod_runtime.is_none() && self.pod_python.is_none() {
            return Ok(None);
        }
        let mut runtime = PodRuntime::default();
        if local {
            runtime.expect_gpu = false;
            // A workstation or CI disk, not a pod's volume: core's 20 GB would refuse many.
            runtime.min_free_disk_gb = 1;
        }
        if let Some(table) = &self.pod_runtime {
            runtime = trainpod::fields::lay_over("pod_runtime", &runtime, table.clone())?;
        }
        if let Some(python) = &self.pod_python {
            runtime.python = python.clone();
        }
        Ok(Some(runtime))
    }
}

pub fn invalid(message: String) -> Error {
    Error::invalid_input(message)
}

/// The config file in use and what it holds: the one named (which must exist), else the
/// default one when it exists.
fn read_config(flag: Option<&Path>) -> Result<(Option<PathBuf>, ConfigFile)> {
    let named = flag.map(Path::to_path_buf).or_else(|| env_path(CONFIG_ENV));
    let path = match named {
        Some(path) => path,
        None => match default_config_path() {
            Some(path) if path.exists() => path,
            _ => return Ok((None, ConfigFile::default())),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        invalid(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    let file = toml::from_str::<ConfigFile>(&text).map_err(|e| {
        // toml's Display quotes the offending line, which may hold a key: only the line number
        // and the message go out.
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = line.map_or(String::new(), |l| format!(" line {l}:"));
        invalid(format!(
            "config file {}:{at} {}",
            path.display(),
            e.message().trim_end()
        ))
    })?;
    Ok((Some(path), file))
}

fn home() -> Option<PathBuf> {
    env_path("HOME")
}

/// `$XDG_CONFIG_HOME/trainpod/config.toml`, else `~/.config/trainpod/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    let base = env_path("XDG_CONFIG_HOME").or_else(|| home().map(|h| h.join(".config")))?;
    Some(base.join("trainpod/config.toml"))
}

/// `sqlite://$XDG_DATA_HOME/trainpod/trainpod.db` (else under `~/.local/share`): one place for
/// a user's jobs whatever the directory a command runs in.
fn default_store_url() -> Result<String> {
    let base = env_path("XDG_DATA_HOME")
        .or_else(|| home().map(|h| h.join(".local/share")))
        .ok_or_else(|| {
            invalid("no HOME to keep the job store under: pass --store-url sqlite://PATH".into())
        })?;
    let dir = base.join("trainpod");
    std::fs::create_dir_all(&dir).map_err(|e| {
        invalid(format!(
            "cannot create {} for the job store ({e}); pass --store-url sqlite://PATH",
            dir.display()
        ))
    })?;
    Ok(format!("sqlite://{}", dir.join("trainpod.db").display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let settings = Settings {
            runpod_api_key: Some(Secret("rpa_TOPSECRET".into())),
            signing_keys: Some(Secret("k1:active:ALSOSECRET".into())),
            ..Settings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
