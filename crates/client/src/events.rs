//! Lifecycle event registrations and the delivery log of an instance.

use arca_proto::events::{
    CreateEventRegistration, CreatedEventRegistration, EventDelivery, EventDeliveryList,
    EventRegistration, EventRegistrationList,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// Filter of [`Client::event_deliveries`].
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this registration's deliveries.
    pub registration_id: Option<String>,
    /// Only in this state (`pending`, `delivered`, `failed`).
    pub state: Option<String>,
    /// At most this many (server default 100).
    pub limit: Option<i64>,
}

impl Client {
    /// Registers a callback URL of an instance; the answer holds the signing secret, once.
    pub async fn create_event_registration(
        &self,
        instance_id: &str,
        req: &CreateEventRegistration,
    ) -> Result<CreatedEventRegistration, ClientError> {
        let url = self.instance_url(instance_id, &["event_registrations"])?;
        self.send_url(Method::POST, url, Some(req)).await
    }

    /// The callback registrations of an instance.
    pub async fn event_registrations(
        &self,
        instance_id: &str,
    ) -> Result<Vec<EventRegistration>, ClientError> {
        let url = self.instance_url(instance_id, &["event_registrations"])?;
        let list: EventRegistrationList = self.send_url(Method::GET, url, None::<&()>).await?;
        Ok(list.event_registrations)
    }

    /// A callback registration.
    pub async fn event_registration(
        &self,
        instance_id: &str,
        id: &str,
    ) -> Result<EventRegistration, ClientError> {
        let url = self.instance_url(instance_id, &["event_registrations", id])?;
        self.send_url(Method::GET, url, None::<&()>).await
    }

    /// Deletes a callback registration.
    pub async fn delete_event_registration(
        &self,
        instance_id: &str,
        id: &str,
    ) -> Result<(), ClientError> {
        let url = self.instance_url(instance_id, &["event_registrations", id])?;
        self.send_empty(Method::DELETE, url).await
    }

    /// Sends a signed `arca.test` event to a registration now; its delivery after the attempt.
    pub async fn test_event_registration(
        &self,
        instance_id: &str,
        id: &str,
    ) -> Result<EventDelivery, ClientError> {
        let url = self.instance_url(instance_id, &["event_registrations", id, "test"])?;
        self.send_url(Method::POST, url, None::<&()>).await
    }

    /// The delivery log of an instance, newest first.
    pub async fn event_deliveries(
        &self,
        instance_id: &str,
        filter: &DeliveryFilter,
    ) -> Result<Vec<EventDelivery>, ClientError> {
        let mut url = self.instance_url(instance_id, &["event_deliveries"])?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(r) = &filter.registration_id {
                q.append_pair("registration_id", r);
            }
            if let Some(s) = &filter.state {
                q.append_pair("state", s);
            }
            if let Some(l) = filter.limit {
                q.append_pair("limit", &l.to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let list: EventDeliveryList = self.send_url(Method::GET, url, None::<&()>).await?;
        Ok(list.event_deliveries)
    }
}
