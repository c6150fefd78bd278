//! "Set up a provider" in the app: a test call to a model server with the key a person typed,
//! and keeping that key in their credential store (the OS keychain, else their private file).
//! Then `projectInfo` finds the provider again, so the app never needs reopening.
//!
//! **Architecture Invariant:** the test call sends only the key typed with it, never one from
//! the store: a page (or a melody) cannot make the host send a stored key to a URL it chose.

use std::time::Duration;

use symphony_credentials::{check_name, Backend, Secret, StoreOptions};
use symphony_instruments::discovery::probe;
use symphony_instruments::providers;

use crate::wire::{
    CredentialSaved, ProviderTest, SetCredentialArgs, TestProviderArgs, WireFormatInfo,
};
use crate::{Host, HostError};

/// How long a test call may take: a local server answers at once, a hosted one in a second.
const TEST_TIMEOUT: Duration = Duration::from_secs(8);

/// The largest value kept as a credential (keys are far shorter).
const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The wire formats a chat step can speak, from the instruments' one table
/// (`providers::FORMATS`, the default first), for `projectInfo`: the dialog's presets and the
/// model picker's settings come from here, not from names written in the UI.
pub fn formats() -> Vec<WireFormatInfo> {
    providers::FORMATS
        .iter()
        .map(|f| WireFormatInfo {
            name: f.name.to_owned(),
            label: f.label.to_owned(),
            about: f.about.to_owned(),
            default_base_url: f.default_base_url.to_owned(),
            credential: f.credential.to_owned(),
            max_temperature: f.max_temperature,
        })
        .collect()
}

impl Host {
    /// `testProvider`: lists the models of the server at `baseUrl` with the typed key (or none,
    /// for a local server), as its wire format (`api`, a name in the instruments' format
    /// table) lists them. Never fails: the answer says what went wrong.
    pub async fn test_provider(&self, args: TestProviderArgs) -> Result<ProviderTest, HostError> {
        let format = providers::find(&args.api).ok_or_else(|| HostError::BadArguments {
            command: "testProvider".into(),
            message: format!("api is {}, not {:?}", providers::names_in_words(), args.api),
        })?;
        let url = args.base_url.trim();
        let web = url.starts_with("http://") || url.starts_with("https://");
        if !web || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HostError::BadArguments {
                command: "testProvider".into(),
                message: format!(
                    "the base URL is an http:// or https:// address on one line, like https://api.openai.com/v1; not {url:?}"
                ),
            });
        }
        let key = args.key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        Ok(match probe(format, url, key, TEST_TIMEOUT).await {
            Ok(models) => ProviderTest {
                ok: true,
                message: match models.len() {
                    0 => "It answered, but lists no model: type the model's name yourself.".into(),
                    1 => "It answered and lists 1 model.".into(),
                    n => format!("It answered and lists {n} models."),
                },
                models,
            },
            Err(why) => ProviderTest {
                ok: false,
                models: Vec::new(),
                message: format!("It did not answer as a model server: {why}"),
            },
        })
    }

    /// `setCredential`: keeps `value` under `name` in the user's credential store, where steps
    /// and discovery find it. Says where it went (a plain file is said to be one).
    pub async fn set_credential(
        &self,
        args: SetCredentialArgs,
    ) -> Result<CredentialSaved, HostError> {
        let bad = |message: String| HostError::BadArguments {
            command: "setCredential".into(),
            message,
        };
        check_name(&args.name).map_err(|e| bad(e.to_string()))?;
        let value = args.value.trim();
        if value.is_empty() {
            return Err(bad("the value is empty".into()));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(bad(format!(
                "the value is over {} KiB; a key is far shorter",
                MAX_VALUE_BYTES / 1024
            )));
        }
        let secret = Secret::new(value);
        let given = self.inner.credential_store.clone();
        let name = args.name.clone();
        // Opening a keychain probes it (up to seconds) and writing blocks: off the runtime.
        let (place, encrypted, warning) = tokio::task::spawn_blocking(move || {
            let (store, warning) = match given {
                Some(store) => (store, None),
                None => {
                    let opened = StoreOptions::from_env().and_then(symphony_credentials::open)?;
                    (opened.store, opened.warning)
                }
            };
            store.set(&name, &secret)?;
            Ok::<_, symphony_credentials::StoreError>((
                store.describe(),
                store.backend() == Backend::Keychain,
                warning,
            ))
        })
        .await
        .map_err(|e| HostError::Credentials(format!("the credential store call failed: {e}")))?
        .map_err(|e| HostError::Credentials(e.to_string()))?;
        Ok(CredentialSaved {
            name: args.name,
            place,
            encrypted,
            warning,
        })
    }
}

#[cfg(test)]
mod tests {
    use symphony_instruments::providers;

    /// The UI is told every format, in the table's order (the default first), with the fields
    /// it reads under their wire names.
    #[test]
    fn formats_are_the_instruments_table() {
        let formats = super::formats();
        let names: Vec<&str> = formats.iter().map(|f| f.name.as_str()).collect();
        let table: Vec<&str> = providers::FORMATS.iter().map(|f| f.name).collect();
        assert_eq!(names, table);
        assert_eq!(formats[0].name, providers::named_or_default(None).name);
        let anthropic = providers::find("anthropic").expect("anthropic is a format");
        let json = serde_json::to_value(&formats).expect("formats serialize");
        let entry = json
            .as_array()
            .and_then(|a| a.iter().find(|f| f["name"] == "anthropic"))
            .expect("anthropic is listed");
        assert_eq!(entry["defaultBaseUrl"], anthropic.default_base_url);
        assert_eq!(entry["credential"], anthropic.credential);
        assert_eq!(entry["maxTemperature"], anthropic.max_temperature);
        assert_eq!(entry["label"], anthropic.label);
    }
}
