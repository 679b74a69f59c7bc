//! Listing secrets: the filters, search and sort of `GET /secrets`.

use std::cmp::Ordering;

use super::SecretView;
use super::model::SecretType;
use crate::{ServiceError, ServiceResult};

/// Filters of a secret listing, as the SDK sends them.
#[derive(Debug, Clone, Default)]
pub struct SecretFilter {
    /// Substring (case-insensitive) of id, name, description, labels or type.
    pub search: Option<String>,
    /// Group ids (`default` included); unknown ids simply match nothing.
    pub groups: Vec<String>,
    /// Types.
    pub secret_types: Vec<String>,
    /// Labels a secret must all carry.
    pub match_all_labels: Vec<String>,
    /// Sort field, `-` prefix for descending.
    pub sort: Option<String>,
}

const SORT_FIELDS: [&str; 7] = [
    "id",
    "created_at",
    "updated_at",
    "retrieved_at",
    "expiration_date",
    "secret_type",
    "name",
];

/// Splits a sort parameter into (descending, field): `-name` is (true, "name").
pub fn split_sort(sort: &str) -> (bool, &str) {
    match sort.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, sort),
    }
}

impl SecretFilter {
    /// Checks the parameters before any lookup.
    pub fn validate(&self) -> ServiceResult<()> {
        if let Some(s) = &self.search
            && !(2..=128).contains(&s.chars().count())
        {
            return Err(ServiceError::InvalidInput(
                "search must be 2 to 128 characters".into(),
            ));
        }
        if self.groups.len() > 201 {
            return Err(ServiceError::InvalidInput("at most 201 groups".into()));
        }
        for t in &self.secret_types {
            SecretType::parse(t)?;
        }
        if let Some(sort) = &self.sort
            && !SORT_FIELDS.contains(&split_sort(sort).1)
        {
            return Err(ServiceError::InvalidInput(format!(
                "sort must be one of {} (prefix - for descending)",
                SORT_FIELDS.join(", ")
            )));
        }
        Ok(())
    }

    fn matches(&self, s: &SecretView) -> bool {
        let r = &s.record;
        if !self.groups.is_empty() && !self.groups.contains(&r.group_id) {
            return false;
        }
        if !self.secret_types.is_empty() && !self.secret_types.contains(&r.secret_type) {
            return false;
        }
        if !self
            .match_all_labels
            .iter()
            .all(|l| s.meta.labels.contains(l))
        {
            return false;
        }
        match &self.search {
            None => true,
            Some(q) => {
                let q = q.to_lowercase();
                let hit = |t: &str| t.to_lowercase().contains(&q);
                hit(&r.id)
                    || hit(&r.name)
                    || hit(&s.meta.description)
                    || hit(&r.secret_type)
                    || s.meta.labels.iter().any(|l| hit(l))
            }
        }
    }

    fn compare(&self, a: &SecretView, b: &SecretView) -> Ordering {
        let Some(sort) = &self.sort else {
            // Default: newest first, as Secrets Manager lists.
            return b
                .record
                .created_at
                .cmp(&a.record.created_at)
                .then_with(|| a.record.id.cmp(&b.record.id));
        };
        let (desc, field) = split_sort(sort);
        let (a, b) = (&a.record, &b.record);
        let ord = match field {
            "created_at" => a.created_at.cmp(&b.created_at),
            "updated_at" => a.updated_at.cmp(&b.updated_at),
            "retrieved_at" => a.retrieved_at.cmp(&b.retrieved_at),
            "expiration_date" => a.expiration_date.cmp(&b.expiration_date),
            "secret_type" => a.secret_type.cmp(&b.secret_type),
            "name" => a.name.cmp(&b.name),
            _ => Ordering::Equal,
        }
        .then_with(|| a.id.cmp(&b.id));
        if desc { ord.reverse() } else { ord }
    }

    /// Keeps the matching secrets, in order.
    pub fn apply(&self, secrets: Vec<SecretView>) -> Vec<SecretView> {
        let mut out: Vec<SecretView> = secrets.into_iter().filter(|s| self.matches(s)).collect();
        out.sort_by(|a, b| self.compare(a, b));
        out
    }
}

impl super::SecretsService {
    /// The instance's secrets matching `filter` (metadata only), sorted; the caller pages.
    pub async fn list_secrets(
        &self,
        principal: &crate::Principal,
        instance_id: &str,
        filter: &SecretFilter,
    ) -> ServiceResult<Vec<SecretView>> {
        filter.validate()?;
        let instance = self
            .authorize(principal, instance_id, crate::access::Permission::Read)
            .await?;
        let all = self
            .store
            .list_secrets(instance_id)
            .await?
            .into_iter()
            .map(|r| self.view(&instance, r))
            .collect::<ServiceResult<Vec<_>>>()?;
        Ok(filter.apply(all))
    }
}
