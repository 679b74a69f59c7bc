//! Identity administration (`/v1/iam/...`): users, service IDs, API keys, role grants,
//! service-to-service authorizations.

use arca_proto::iam::{
    ApiKey, ApiKeyList, Authorization, AuthorizationList, CreateApiKeyRequest,
    CreateAuthorizationRequest, CreateGrantRequest, CreatePrincipalRequest, CreatedApiKey, Grant,
    GrantList, Principal, PrincipalList,
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

    /// `POST /v1/iam/authorizations`: authorizes the service instance `source_instance_id` to
    /// use `target_key_id` (an id or alias), or every key when `None`, of the key-service
    /// instance `target_instance_id`, with `role`.
    pub async fn create_authorization(
        &self,
        source_instance_id: &str,
        target_instance_id: &str,
        target_key_id: Option<&str>,
        role: &str,
    ) -> Result<Authorization, ClientError> {
        let req = CreateAuthorizationRequest {
            source_service_instance_id: source_instance_id.to_owned(),
            target_service_instance_id: target_instance_id.to_owned(),
            target_key_id: target_key_id.map(str::to_owned),
            role: role.to_owned(),
        };
        self.send(Method::POST, "/v1/iam/authorizations", Some(&req))
            .await
    }

    /// `GET /v1/iam/authorizations`.
    pub async fn list_authorizations(&self) -> Result<Vec<Authorization>, ClientError> {
        let list: AuthorizationList = self
            .send(Method::GET, "/v1/iam/authorizations", None::<&()>)
            .await?;
        Ok(list.authorizations)
    }

    /// `DELETE /v1/iam/authorizations/{id}`.
    pub async fn delete_authorization(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url_with_segment("/v1/iam/authorizations/", id)?;
        self.send_empty(Method::DELETE, url).await
    }
}
