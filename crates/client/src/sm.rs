//! The Secrets Manager v2 API of one secrets instance (`/sm/<instance>/api/v2/...`). Bodies are
//! polymorphic on `secret_type` and `config_type`, so requests and answers are JSON values; the
//! CLI and the tests read the fields they need.

use reqwest::Method;
use serde_json::Value;

use crate::{Client, ClientError};

/// A client of one secrets instance.
#[derive(Debug, Clone)]
pub struct SmClient {
    client: Client,
    instance_id: String,
}

impl Client {
    /// The Secrets Manager API of instance `instance_id`.
    pub fn sm(&self, instance_id: &str) -> SmClient {
        SmClient {
            client: self.clone(),
            instance_id: instance_id.to_owned(),
        }
    }
}

impl SmClient {
    /// The instance.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Sends a request to `/sm/<instance>/api/v2/<segments...>` (each segment percent-encoded)
    /// and returns the JSON answer (`Value::Null` for 204).
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.call_with_headers(method, segments, query, &[], body)
            .await
    }

    /// [`SmClient::call`] with extra request headers (e.g. `X-Sm-Accept-Configuration-Type`).
    pub async fn call_with_headers(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut url = self.client.url("/")?;
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?;
            path.pop_if_empty()
                .extend(["sm", self.instance_id.as_str(), "api", "v2"])
                .extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self.client.http.request(method, url);
        if let Some(key) = &self.client.api_key {
            req = req.bearer_auth(key.as_str());
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Client::decode(resp).await
    }

    /// `POST /secret_groups`.
    pub async fn create_group(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut body = serde_json::json!({ "name": name });
        if let Some(d) = description {
            body["description"] = Value::String(d.to_owned());
        }
        self.call(Method::POST, &["secret_groups"], &[], Some(&body))
            .await
    }

    /// `GET /secret_groups`.
    pub async fn list_groups(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secret_groups"], &[], None).await
    }

    /// `DELETE /secret_groups/{id}`.
    pub async fn delete_group(&self, id: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &["secret_groups", id], &[], None)
            .await
            .map(|_| ())
    }

    /// `POST /secrets` with a prototype (`secret_type`, `name`, data fields, ...).
    pub async fn create_secret(&self, prototype: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, &["secrets"], &[], Some(prototype))
            .await
    }

    /// `GET /secrets` with query parameters (`limit`, `offset`, `search`, `groups`, ...).
    pub async fn list_secrets(&self, query: &[(&str, &str)]) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secrets"], query, None).await
    }

    /// Every secret matching `query`, following the pages.
    pub async fn all_secrets(&self, query: &[(&str, &str)]) -> Result<Vec<Value>, ClientError> {
        let mut out = Vec::new();
        let mut offset = 0usize;
        loop {
            let offset_text = offset.to_string();
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("offset", &offset_text));
            let page = self.list_secrets(&q).await?;
            let items = page["secrets"].as_array().cloned().unwrap_or_default();
            let got = items.len();
            offset += got;
            out.extend(items);
            if got == 0 || page.get("next").is_none() {
                return Ok(out);
            }
        }
    }

    /// `GET /secrets/{id}` (with data).
    pub async fn get_secret(&self, id: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secrets", id], &[], None).await
    }

    /// `GET /secret_groups/{group}/secret_types/{type}/secrets/{name}`.
    pub async fn get_secret_by_name(
        &self,
        group: &str,
        secret_type: &str,
        name: &str,
    ) -> Result<Value, ClientError> {
        self.call(
            Method::GET,
            &[
                "secret_groups",
                group,
                "secret_types",
                secret_type,
                "secrets",
                name,
            ],
            &[],
            None,
        )
        .await
    }

    /// `GET /secrets/{id}/metadata`.
    pub async fn secret_metadata(&self, id: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secrets", id, "metadata"], &[], None)
            .await
    }

    /// `PATCH /secrets/{id}/metadata`.
    pub async fn update_secret_metadata(
        &self,
        id: &str,
        patch: &Value,
    ) -> Result<Value, ClientError> {
        self.call(
            Method::PATCH,
            &["secrets", id, "metadata"],
            &[],
            Some(patch),
        )
        .await
    }

    /// `DELETE /secrets/{id}`.
    pub async fn delete_secret(&self, id: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &["secrets", id], &[], None)
            .await
            .map(|_| ())
    }

    /// `POST /secrets/{id}/versions`.
    pub async fn create_version(&self, id: &str, prototype: &Value) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &["secrets", id, "versions"],
            &[],
            Some(prototype),
        )
        .await
    }

    /// `GET /secrets/{id}/versions`.
    pub async fn list_versions(&self, id: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secrets", id, "versions"], &[], None)
            .await
    }

    /// `GET /secrets/{id}/versions/{version}` (with data; `current`, `previous` or an id).
    pub async fn get_version(&self, id: &str, version: &str) -> Result<Value, ClientError> {
        self.call(
            Method::GET,
            &["secrets", id, "versions", version],
            &[],
            None,
        )
        .await
    }

    /// `POST /secrets/{id}[/versions/{version}]/actions`.
    pub async fn secret_action(
        &self,
        id: &str,
        version: Option<&str>,
        action_type: &str,
    ) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "action_type": action_type });
        match version {
            Some(v) => {
                self.call(
                    Method::POST,
                    &["secrets", id, "versions", v, "actions"],
                    &[],
                    Some(&body),
                )
                .await
            }
            None => {
                self.call(Method::POST, &["secrets", id, "actions"], &[], Some(&body))
                    .await
            }
        }
    }

    /// `POST /secrets/{id}[/versions/{version}]/locks_bulk`.
    pub async fn create_locks(
        &self,
        id: &str,
        version: Option<&str>,
        locks: &Value,
        mode: Option<&str>,
    ) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "locks": locks });
        let query: Vec<(&str, &str)> = mode.map(|m| ("mode", m)).into_iter().collect();
        match version {
            Some(v) => {
                self.call(
                    Method::POST,
                    &["secrets", id, "versions", v, "locks_bulk"],
                    &query,
                    Some(&body),
                )
                .await
            }
            None => {
                self.call(
                    Method::POST,
                    &["secrets", id, "locks_bulk"],
                    &query,
                    Some(&body),
                )
                .await
            }
        }
    }

    /// `DELETE /secrets/{id}[/versions/{version}]/locks_bulk` (by name, or all).
    pub async fn delete_locks(
        &self,
        id: &str,
        version: Option<&str>,
        names: Option<&str>,
    ) -> Result<Value, ClientError> {
        let query: Vec<(&str, &str)> = names.map(|n| ("name", n)).into_iter().collect();
        match version {
            Some(v) => {
                self.call(
                    Method::DELETE,
                    &["secrets", id, "versions", v, "locks_bulk"],
                    &query,
                    None,
                )
                .await
            }
            None => {
                self.call(Method::DELETE, &["secrets", id, "locks_bulk"], &query, None)
                    .await
            }
        }
    }

    /// `GET /secrets/{id}/locks`.
    pub async fn list_locks(&self, id: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secrets", id, "locks"], &[], None)
            .await
    }

    /// `GET /secrets_locks`.
    pub async fn list_instance_locks(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secrets_locks"], &[], None).await
    }

    /// `POST /configurations`.
    pub async fn create_config(&self, prototype: &Value) -> Result<Value, ClientError> {
        self.call(Method::POST, &["configurations"], &[], Some(prototype))
            .await
    }

    /// `GET /configurations`.
    pub async fn list_configs(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, &["configurations"], &[], None).await
    }

    /// `GET /configurations/{name}`.
    pub async fn get_config(&self, name: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["configurations", name], &[], None)
            .await
    }

    /// `DELETE /configurations/{name}`.
    pub async fn delete_config(&self, name: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &["configurations", name], &[], None)
            .await
            .map(|_| ())
    }

    /// `POST /configurations/{name}/actions`.
    pub async fn config_action(&self, name: &str, action: &Value) -> Result<Value, ClientError> {
        self.call(
            Method::POST,
            &["configurations", name, "actions"],
            &[],
            Some(action),
        )
        .await
    }
}

/// The items of a paged listing, gathered from its pages.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// The items, in the server's order.
    pub items: Vec<Value>,
    /// `total_count` of the first page: how many items match (may exceed `items` when a maximum
    /// was given).
    pub total_count: Option<u64>,
}

/// The `X-Sm-Accept-Configuration-Type` header, when a configuration type is given.
fn config_type_header(config_type: Option<&str>) -> Vec<(&'static str, &str)> {
    config_type
        .map(|t| ("X-Sm-Accept-Configuration-Type", t))
        .into_iter()
        .collect()
}

impl SmClient {
    /// Follows the pages of a paged listing (`secrets`, `secrets_locks`, `locks`,
    /// `configurations`): starts at the `offset` of `query` (0 when absent), keeps the other
    /// parameters, and stops at the page without `next`, at an empty page, or once `max` items
    /// are gathered.
    pub async fn collect_pages(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        items_key: &str,
        max: Option<usize>,
    ) -> Result<Collected, ClientError> {
        let mut offset: usize = query
            .iter()
            .find(|(k, _)| *k == "offset")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let rest: Vec<(&str, &str)> = query
            .iter()
            .filter(|(k, _)| *k != "offset")
            .copied()
            .collect();
        let mut out = Collected::default();
        loop {
            let offset_text = offset.to_string();
            let mut q = rest.clone();
            q.push(("offset", &offset_text));
            let page = self.call(Method::GET, segments, &q, None).await?;
            if out.total_count.is_none() {
                out.total_count = page["total_count"].as_u64();
            }
            let items = match page.get(items_key) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            let got = items.len();
            offset += got;
            out.items.extend(items);
            if let Some(max) = max
                && out.items.len() >= max
            {
                out.items.truncate(max);
                return Ok(out);
            }
            if got == 0 || page.get("next").is_none_or(Value::is_null) {
                return Ok(out);
            }
        }
    }

    /// `GET /secret_groups/{id}`.
    pub async fn get_group(&self, id: &str) -> Result<Value, ClientError> {
        self.call(Method::GET, &["secret_groups", id], &[], None)
            .await
    }

    /// `PATCH /secret_groups/{id}` (`name`, `description`).
    pub async fn update_group(&self, id: &str, patch: &Value) -> Result<Value, ClientError> {
        self.call(Method::PATCH, &["secret_groups", id], &[], Some(patch))
            .await
    }

    /// `DELETE /secrets/{id}?force_delete=...`.
    pub async fn delete_secret_forced(&self, id: &str, force: bool) -> Result<(), ClientError> {
        let force = if force { "true" } else { "false" };
        self.call(
            Method::DELETE,
            &["secrets", id],
            &[("force_delete", force)],
            None,
        )
        .await
        .map(|_| ())
    }

    /// `GET /secrets/{id}/versions/{version}/metadata` (no data).
    pub async fn version_metadata(&self, id: &str, version: &str) -> Result<Value, ClientError> {
        self.call(
            Method::GET,
            &["secrets", id, "versions", version, "metadata"],
            &[],
            None,
        )
        .await
    }

    /// Every lock of a secret (`GET /secrets/{id}/locks`) or of one of its versions
    /// (`GET /secrets/{id}/versions/{version}/locks`), following the pages.
    pub async fn all_secret_locks(
        &self,
        id: &str,
        version: Option<&str>,
    ) -> Result<Collected, ClientError> {
        let query = [("limit", "100")];
        match version {
            Some(v) => {
                self.collect_pages(
                    &["secrets", id, "versions", v, "locks"],
                    &query,
                    "locks",
                    None,
                )
                .await
            }
            None => {
                self.collect_pages(&["secrets", id, "locks"], &query, "locks", None)
                    .await
            }
        }
    }

    /// Every secret of the instance that has locks (`GET /secrets_locks`), following the pages.
    pub async fn all_instance_locks(
        &self,
        query: &[(&str, &str)],
    ) -> Result<Collected, ClientError> {
        self.collect_pages(&["secrets_locks"], query, "secrets_locks", None)
            .await
    }

    /// Every configuration matching `query` (`GET /configurations`), following the pages.
    pub async fn all_configs(&self, query: &[(&str, &str)]) -> Result<Collected, ClientError> {
        self.collect_pages(&["configurations"], query, "configurations", None)
            .await
    }

    /// `GET /configurations/{name}`, picking the type of an ambiguous name.
    pub async fn get_config_as(
        &self,
        name: &str,
        config_type: Option<&str>,
    ) -> Result<Value, ClientError> {
        self.call_with_headers(
            Method::GET,
            &["configurations", name],
            &[],
            &config_type_header(config_type),
            None,
        )
        .await
    }

    /// `PATCH /configurations/{name}`.
    pub async fn update_config(
        &self,
        name: &str,
        config_type: Option<&str>,
        patch: &Value,
    ) -> Result<Value, ClientError> {
        self.call_with_headers(
            Method::PATCH,
            &["configurations", name],
            &[],
            &config_type_header(config_type),
            Some(patch),
        )
        .await
    }

    /// `DELETE /configurations/{name}`, picking the type of an ambiguous name.
    pub async fn delete_config_as(
        &self,
        name: &str,
        config_type: Option<&str>,
    ) -> Result<(), ClientError> {
        self.call_with_headers(
            Method::DELETE,
            &["configurations", name],
            &[],
            &config_type_header(config_type),
            None,
        )
        .await
        .map(|_| ())
    }

    /// `POST /configurations/{name}/actions`, picking the type of an ambiguous name.
    pub async fn config_action_as(
        &self,
        name: &str,
        config_type: Option<&str>,
        action: &Value,
    ) -> Result<Value, ClientError> {
        self.call_with_headers(
            Method::POST,
            &["configurations", name, "actions"],
            &[],
            &config_type_header(config_type),
            Some(action),
        )
        .await
    }

    /// `POST /notifications/registration`.
    pub async fn register_notifications(
        &self,
        instance_crn: &str,
        source_name: &str,
        source_description: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut body = serde_json::json!({
            "event_notifications_instance_crn": instance_crn,
            "event_notifications_source_name": source_name,
        });
        if let Some(d) = source_description {
            body["event_notifications_source_description"] = Value::String(d.to_owned());
        }
        self.call(
            Method::POST,
            &["notifications", "registration"],
            &[],
            Some(&body),
        )
        .await
    }

    /// `GET /notifications/registration`.
    pub async fn get_notifications(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, &["notifications", "registration"], &[], None)
            .await
    }

    /// `DELETE /notifications/registration`.
    pub async fn delete_notifications(&self) -> Result<(), ClientError> {
        self.call(
            Method::DELETE,
            &["notifications", "registration"],
            &[],
            None,
        )
        .await
        .map(|_| ())
    }

    /// `GET /notifications/registration/test` (204).
    pub async fn test_notifications(&self) -> Result<(), ClientError> {
        self.call(
            Method::GET,
            &["notifications", "registration", "test"],
            &[],
            None,
        )
        .await
        .map(|_| ())
    }
}
