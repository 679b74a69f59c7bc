//! The Resource Controller API (`/v2/resource_instances`, `/v1/reclamations`): instances as
//! IBM's `ibmcloud resource` sees them.

use arca_proto::instance::ReclamationList;
use arca_proto::resource_controller::{
    CreateResourceInstance, Reclamation, ReclamationActionRequest, ResourceInstance,
    ResourceInstancesList, UpdateResourceInstance,
};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `POST /v2/resource_instances`.
    pub async fn rc_create_instance(
        &self,
        req: &CreateResourceInstance,
    ) -> Result<ResourceInstance, ClientError> {
        self.send(Method::POST, "/v2/resource_instances", Some(req))
            .await
    }

    /// One page of `GET /v2/resource_instances`: `query` holds filters (`name`, `state`,
    /// `resource_id`, ...), `limit` and `start`.
    pub async fn rc_list_instances_page(
        &self,
        query: &[(&str, &str)],
    ) -> Result<ResourceInstancesList, ClientError> {
        let mut url = self.url("/v2/resource_instances")?;
        url.query_pairs_mut().extend_pairs(query);
        self.send_url(Method::GET, url, None::<&()>).await
    }

    /// Every instance matching `query`, following `next_url`.
    pub async fn rc_list_instances(
        &self,
        query: &[(&str, &str)],
    ) -> Result<Vec<ResourceInstance>, ClientError> {
        let mut page = self.rc_list_instances_page(query).await?;
        let mut all = std::mem::take(&mut page.resources);
        while let Some(next) = page.next_url.take() {
            page = self.send(Method::GET, &next, None::<&()>).await?;
            all.append(&mut page.resources);
        }
        Ok(all)
    }

    /// `GET /v2/resource_instances/{id}` (GUID or CRN).
    pub async fn rc_get_instance(&self, id: &str) -> Result<ResourceInstance, ClientError> {
        let url = self.url_with_segment("/v2/resource_instances/", id)?;
        self.send_url(Method::GET, url, None::<&()>).await
    }

    /// `PATCH /v2/resource_instances/{id}`.
    pub async fn rc_update_instance(
        &self,
        id: &str,
        req: &UpdateResourceInstance,
    ) -> Result<ResourceInstance, ClientError> {
        let url = self.url_with_segment("/v2/resource_instances/", id)?;
        self.send_url(Method::PATCH, url, Some(req)).await
    }

    /// `DELETE /v2/resource_instances/{id}`: disabled at once, reclaimed after the period.
    pub async fn rc_delete_instance(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url_with_segment("/v2/resource_instances/", id)?;
        self.send_empty(Method::DELETE, url).await
    }

    /// `GET /v1/reclamations`, in the Resource Controller's shape, optionally of one instance.
    pub async fn rc_reclamations(
        &self,
        resource_instance_id: Option<&str>,
    ) -> Result<Vec<Reclamation>, ClientError> {
        let mut url = self.url("/v1/reclamations")?;
        if let Some(id) = resource_instance_id {
            url.query_pairs_mut()
                .append_pair("resource_instance_id", id);
        }
        let list: ReclamationList = self.send_url(Method::GET, url, None::<&()>).await?;
        Ok(list.resources)
    }

    /// `POST /v1/reclamations/{id}/actions/{action}`: `restore` or `reclaim`.
    pub async fn rc_reclamation_action(
        &self,
        id: &str,
        action: &str,
    ) -> Result<Reclamation, ClientError> {
        let mut url = self.url_with_segment("/v1/reclamations/", id)?;
        url.path_segments_mut()
            .map_err(|_| ClientError::Config("base URL cannot have paths".into()))?
            .extend(["actions", action]);
        self.send_url(
            Method::POST,
            url,
            Some(&ReclamationActionRequest::default()),
        )
        .await
    }
}
