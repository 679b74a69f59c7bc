//! Identity administration (`/v1/iam/...`): users, service IDs, API keys, role grants.

use arca_proto::iam::{
    ApiKey, ApiKeyList, CreateApiKeyRequest, CreateGrantRequest, CreatePrincipalRequest,
    CreatedApiKey, Grant, GrantList, Principal, PrincipalList,
};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/iam/principals`: a user (`kind` = `user`) or service ID (`service_id`).
    pub async fn create_principal(&self, kind: &str, name: &str) -> Result<Principal, ClientError> {
        let req = CreatePrincipalRequest {
            kind: kind.to_owned(),
            name: name.to_owned(),
        };
        self.send(Method::POST, "/v1/iam/principals", Some(&req))
            .await
    }

    /// `GET /v1/iam/principals`.
    pub async fn list_principals(&self) -> Result<Vec<Principal>, ClientError> {
        let list: PrincipalList = self
            .send(Method::GET, "/v1/iam/principals", None::<&()>)
            .await?;
        Ok(list.principals)
    }

    /// `POST /v1/iam/api-keys`: the answer holds the key, shown once.
    pub async fn create_api_key(
        &self,
        principal_id: &str,
        name: &str,
    ) -> Result<CreatedApiKey, ClientError> {
        let req = CreateApiKeyRequest {
            principal_id: principal_id.to_owned(),
            name: name.to_owned(),
        };
        self.send(Method::POST, "/v1/iam/api-keys", Some(&req))
            .await
    }

    /// `GET /v1/iam/api-keys?principal_id=`.
    pub async fn list_api_keys(&self, principal_id: &str) -> Result<Vec<ApiKey>, ClientError> {
        let mut url = self.url("/v1/iam/api-keys")?;
        url.query_pairs_mut()
            .append_pair("principal_id", principal_id);
        let list: ApiKeyList = self.send_url(Method::GET, url, None::<&()>).await?;
        Ok(list.api_keys)
    }

    /// `DELETE /v1/iam/api-keys/{id}`.
    pub async fn delete_api_key(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url_with_segment("/v1/iam/api-keys/", id)?;
        self.send_empty(Method::DELETE, url).await
    }

    /// `POST /v1/iam/grants`.
    pub async fn create_grant(
        &self,
        principal_id: &str,
        instance_id: &str,
        role: &str,
    ) -> Result<Grant, ClientError> {
        let req = CreateGrantRequest {
            principal_id: principal_id.to_owned(),
            instance_id: instance_id.to_owned(),
            role: role.to_owned(),
        };
        self.send(Method::POST, "/v1/iam/grants", Some(&req)).await
    }

    /// `GET /v1/iam/grants`.
    pub async fn list_grants(&self) -> Result<Vec<Grant>, ClientError> {
        let list: GrantList = self
            .send(Method::GET, "/v1/iam/grants", None::<&()>)
            .await?;
        Ok(list.grants)
    }

    /// `DELETE /v1/iam/grants/{id}`.
    pub async fn delete_grant(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url_with_segment("/v1/iam/grants/", id)?;
        self.send_empty(Method::DELETE, url).await
    }
}
