//! Rows as the services see them. Times are Unix milliseconds.

/// An account (a tenant owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Account id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time (Unix ms).
    pub created_at: i64,
}

/// A user or a service ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person.
    User,
    /// A service identity.
    ServiceId,
}

impl PrincipalKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServiceId => "service_id",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "service_id" => Some(Self::ServiceId),
            _ => None,
        }
    }
}

/// A user or service ID of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// Principal id (IAM-style, e.g. `IBMid-...` or `iam-ServiceId-...`).
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// User or service ID.
    pub kind: PrincipalKind,
    /// Display name.
    pub name: String,
    /// Account administrator: may manage instances and identities.
    pub is_admin: bool,
    /// Creation time (Unix ms).
    pub created_at: i64,
}

/// An API key, by digest. The key itself is shown once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// API key id.
    pub id: String,
    /// The principal it authenticates.
    pub principal_id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 of the key.
    pub digest: Vec<u8>,
    /// Creation time (Unix ms).
    pub created_at: i64,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("principal_id", &self.principal_id)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A service instance (tenant).
#[derive(Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// Instance id (UUID).
    pub id: String,
    /// Owning account.
    pub account_id: String,
    /// `kms` or `secrets-manager`.
    pub service: String,
    /// Display name.
    pub name: String,
    /// Lifecycle state (`active`, ...).
    pub state: String,
    /// The instance key, wrapped by the master key.
    pub wrapped_key: Vec<u8>,
    /// Creation time (Unix ms).
    pub created_at: i64,
}

impl std::fmt::Debug for InstanceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("service", &self.service)
            .field("name", &self.name)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}
