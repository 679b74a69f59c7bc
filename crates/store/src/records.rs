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

/// A user or a service ID, or (never stored) a service instance acting on its own behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person.
    User,
    /// A service identity.
    ServiceId,
    /// A service instance (e.g. a secrets-manager instance) calling another service in-process
    /// on its own behalf, allowed only by service-to-service authorizations. Never stored (the
    /// `principals` table accepts only `user` and `service_id`), never parsed from a stored row
    /// or a token ([`PrincipalKind::parse`] refuses it), never an administrator.
    ServiceInstance,
}

impl PrincipalKind {
    /// The stored name (`service_instance` for [`PrincipalKind::ServiceInstance`], which no
    /// store accepts).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServiceId => "service_id",
            Self::ServiceInstance => "service_instance",
        }
    }

    /// Parses a stored or token name: `user` or `service_id`. Never
    /// [`PrincipalKind::ServiceInstance`], so no row, token or request can produce one.
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

/// A key of the key service (root or standard). Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key id (UUID).
    pub id: String,
    /// Owning instance.
    pub instance_id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `false` for root keys (material never leaves the service), `true` for standard keys.
    pub extractable: bool,
    /// Whether the material was supplied by the user.
    pub imported: bool,
    /// NIST state: 0 pre-activation, 1 active, 2 suspended, 3 deactivated, 5 destroyed.
    pub state: i64,
    /// The state before deletion, restored by `restore`.
    pub state_before_delete: Option<i64>,
    /// Key ring (`default` if none).
    pub key_ring_id: String,
    /// Tags.
    pub tags: Vec<String>,
    /// When the key stops wrapping (moves to deactivated).
    pub expiration_date: Option<i64>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub creation_date: i64,
    /// Last change of anything.
    pub last_update_date: i64,
    /// Last rotation.
    pub last_rotate_date: Option<i64>,
    /// When deleted.
    pub deletion_date: Option<i64>,
    /// Who deleted it.
    pub deleted_by: Option<String>,
    /// Rotation policy: enabled, if set.
    pub rotation_enabled: Option<bool>,
    /// Rotation policy: interval in months, if set.
    pub rotation_interval: Option<i64>,
    /// Dual-authorization delete policy.
    pub dual_auth_delete: bool,
    /// Dual-authorization delete: who gave the first authorization (set the key for deletion).
    pub deletion_auth_by: Option<String>,
    /// Dual-authorization delete: when that authorization was given.
    pub deletion_auth_date: Option<i64>,
    /// The version new wraps use.
    pub current_version_id: String,
    /// Bumped by every update; updates name the revision they read (optimistic concurrency).
    pub revision: i64,
}

/// One version of a key's material.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyVersionRecord {
    /// Version id (UUID), named in every ciphertext it makes.
    pub id: String,
    /// The key.
    pub key_id: String,
    /// 1 for the first version, +1 per rotation.
    pub seq: i64,
    /// When created.
    pub creation_date: i64,
    /// The material wrapped by the master key; `None` once shredded.
    pub wrapped_material: Option<Vec<u8>>,
}

impl std::fmt::Debug for KeyVersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVersionRecord")
            .field("id", &self.id)
            .field("key_id", &self.key_id)
            .field("seq", &self.seq)
            .field("creation_date", &self.creation_date)
            .field("shredded", &self.wrapped_material.is_none())
            .finish()
    }
}

/// Which keys a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyQuery {
    /// Only these states (all when `None`).
    pub states: Option<Vec<i64>>,
    /// Only root (`false`) or standard (`true`) keys.
    pub extractable: Option<bool>,
    /// Only this key ring.
    pub key_ring_id: Option<String>,
    /// Page size (all when `None`).
    pub limit: Option<i64>,
    /// Page start.
    pub offset: i64,
}

/// A key ring of an instance (`default` always exists and is not stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRingRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Ring id (its name).
    pub id: String,
    /// Creator.
    pub created_by: String,
    /// When.
    pub creation_date: i64,
}

/// An instance policy of the key service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePolicyRecord {
    /// Owning instance.
    pub instance_id: String,
    /// `allowedNetwork`, `dualAuthDelete`, `allowedIP`, `keyCreateImportAccess`, `metrics`, `rotation`.
    pub policy_type: String,
    /// Whether enabled.
    pub enabled: bool,
    /// Attributes, as JSON text.
    pub attributes: Option<String>,
    /// Creator.
    pub created_by: String,
    /// When created.
    pub creation_date: i64,
    /// Last updater.
    pub updated_by: String,
    /// When last updated.
    pub last_updated: i64,
}

/// The import token of an instance.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportTokenRecord {
    /// Owning instance.
    pub instance_id: String,
    /// Token id.
    pub id: String,
    /// RSA private key (PKCS#8), wrapped by the master key.
    pub wrapped_private_key: Vec<u8>,
    /// The public key, PEM.
    pub public_key_pem: String,
    /// The nonce, wrapped by the master key.
    pub wrapped_nonce: Vec<u8>,
    /// When created.
    pub creation_date: i64,
    /// When it expires.
    pub expiration_date: i64,
    /// Retrievals allowed.
    pub max_retrievals: i64,
    /// Retrievals left.
    pub remaining_retrievals: i64,
    /// Creator.
    pub created_by: String,
}

impl std::fmt::Debug for ImportTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportTokenRecord")
            .field("instance_id", &self.instance_id)
            .field("id", &self.id)
            .field("expiration_date", &self.expiration_date)
            .field("remaining_retrievals", &self.remaining_retrievals)
            .finish_non_exhaustive()
    }
}

/// An alias of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// Owning instance.
    pub instance_id: String,
    /// The alias.
    pub alias: String,
    /// The key it names.
    pub key_id: String,
    /// Creator.
    pub created_by: String,
    /// When.
    pub creation_date: i64,
}

/// A KMIP adapter of a key-service instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmipAdapterRecord {
    /// Adapter id (UUID).
    pub id: String,
    /// Owning instance.
    pub instance_id: String,
    /// Name, unique in the instance.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Profile (`native_1.0`).
    pub profile: String,
    /// The root key the adapter uses.
    pub crk_id: String,
    /// When created.
    pub created_at: i64,
    /// Creator.
    pub created_by: String,
    /// When last updated.
    pub updated_at: i64,
    /// Last updater.
    pub updated_by: String,
}

/// A client certificate of a KMIP adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmipCertificateRecord {
    /// Certificate id (UUID).
    pub id: String,
    /// Owning adapter.
    pub adapter_id: String,
    /// Name, unique in the adapter.
    pub name: String,
    /// The certificate, PEM.
    pub certificate: String,
    /// When added.
    pub created_at: i64,
    /// Who added it.
    pub created_by: String,
}

/// A role a principal holds on an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrantRecord {
    /// Grant id.
    pub id: String,
    /// The account of both principal and instance.
    pub account_id: String,
    /// Who holds the role.
    pub principal_id: String,
    /// On which instance.
    pub instance_id: String,
    /// `Reader`, `ReaderPlus`, `Writer`, `Manager` or `KeyPurge`.
    pub role: String,
    /// Who granted it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
}

/// A registration: a cloud resource a key protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// The key.
    pub key_id: String,
    /// The protected resource.
    pub resource_crn: String,
    /// The key's instance.
    pub instance_id: String,
    /// Whether the key may not be deleted while this registration exists.
    pub prevent_key_deletion: bool,
    /// Description.
    pub description: Option<String>,
    /// The key version the resource uses.
    pub key_version_id: String,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub creation_date: i64,
    /// Who last changed it.
    pub updated_by: String,
    /// When last changed.
    pub last_updated: i64,
}

/// A service-to-service authorization: a source service instance may use one key, or all keys,
/// of a target key-service instance, with a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAuthorizationRecord {
    /// Authorization id.
    pub id: String,
    /// The account of both instances.
    pub account_id: String,
    /// The source instance's service: `secrets-manager` or `kms`.
    pub source_service: String,
    /// The instance that is authorized.
    pub source_instance_id: String,
    /// The key-service instance whose keys it may use.
    pub target_instance_id: String,
    /// The one key it may use (an id, never an alias); `None` for all keys of the instance.
    pub target_key_id: Option<String>,
    /// `Reader`, `ReaderPlus`, `Writer` or `Manager`.
    pub role: String,
    /// Who created it.
    pub created_by: String,
    /// When (Unix ms).
    pub created_at: i64,
}
