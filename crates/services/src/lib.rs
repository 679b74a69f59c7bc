//! Arca's domain services: the rules, between the API (which knows HTTP) and the crypto, keystore
//! and store layers (which know bytes, HSMs and SQL).
//!
//! [`Arca`] holds the services a server runs. Time comes from a [`Clock`] so that windows and
//! expiries are tested without sleeping.
#![warn(missing_docs)]

pub mod access;
pub mod audit;
pub mod auth;
pub mod backup;
mod cache;
pub mod clock;
mod cluster;
mod error;
pub mod events;
pub mod iam;
pub mod ids;
pub mod import_tokens;
pub mod instance_policies;
pub mod instances;
pub mod key_rings;
pub mod keys;
pub mod kmip;
mod kms_access;
pub mod reclamations;
pub mod registrations;
pub mod resource_controller;
pub mod secrets;
pub mod system;
pub mod tokens;

use std::sync::Arc;

use arca_keystore::Keystore;
use arca_store::Store;

pub use auth::{AuthService, Principal, ServiceInstanceRef};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ServiceError;
pub use instances::{Instance, InstanceService, ServiceKind};
pub use keys::{KeyService, KeyWindows};
pub use system::{InitOutput, SystemService};
pub use tokens::TokenService;

/// Result of service operations.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Server-wide settings the services need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The region named in CRNs (`local` by default).
    pub region: String,
    /// Key lifecycle windows.
    pub key_windows: KeyWindows,
    /// Secrets service limits.
    pub secrets: secrets::SecretsSettings,
    /// How long a deleted instance can be restored before it is reclaimed.
    pub reclamation_period: time::Duration,
    /// Lifecycle event delivery.
    pub events: events::EventSettings,
    /// The audit trail's spool.
    pub audit: audit::AuditSettings,
    /// Scheduled backups (none by default).
    pub backup: Option<backup::BackupSchedule>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            region: "local".into(),
            key_windows: KeyWindows::default(),
            secrets: secrets::SecretsSettings::default(),
            reclamation_period: time::Duration::days(7),
            events: events::EventSettings::default(),
            audit: audit::AuditSettings::default(),
            backup: None,
        }
    }
}

/// Everything a server needs, wired once at start and shared by the handlers.
#[derive(Debug, Clone)]
pub struct Arca {
    /// Root-of-trust operations: init, unseal, seal, status.
    pub system: SystemService,
    /// Authentication of callers.
    pub auth: AuthService,
    /// Service instances (tenants).
    pub instances: InstanceService,
    /// IAM access tokens.
    pub tokens: TokenService,
    /// The key service.
    pub keys: KeyService,
    /// Key rings.
    pub key_rings: key_rings::KeyRingService,
    /// Key-service instance policies.
    pub instance_policies: instance_policies::InstancePolicyService,
    /// Import tokens.
    pub import_tokens: import_tokens::ImportTokenService,
    /// KMIP adapters and client certificates.
    pub kmip: kmip::KmipService,
    /// Users, service IDs, API keys, role grants, service-to-service authorizations.
    pub iam: iam::IamService,
    /// Registrations of resources on keys.
    pub registrations: registrations::RegistrationService,
    /// The secrets service.
    pub secrets: secrets::SecretsService,
    /// Instance deletion, restore and reclamation.
    pub reclamations: reclamations::ReclamationService,
    /// Lifecycle events to callback URLs.
    pub events: events::EventService,
    /// The Resource Controller API's view of instances.
    pub resource_controller: resource_controller::ResourceControllerService,
    /// Role grants and service-to-service authorizations (their caches).
    access: access::AccessService,
    /// The audit trail.
    pub audit: audit::AuditService,
    /// Backups of the whole store.
    pub backup: backup::BackupService,
}

impl Arca {
    /// Wires the services over one store, one keystore and one clock.
    pub fn new(
        store: Arc<dyn Store>,
        keystore: Arc<dyn Keystore>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let audit = audit::AuditService::new(
            store.clone(),
            keystore.clone(),
            clock.clone(),
            settings.audit,
        );
        let auth = AuthService::new(store.clone());
        let access = access::AccessService::new(store.clone());
        let instances = InstanceService::new(
            store.clone(),
            keystore.clone(),
            clock.clone(),
            settings.clone(),
        );
        let events = events::EventService::new(
            store.clone(),
            keystore.clone(),
            clock.clone(),
            instances.clone(),
            access.clone(),
            settings.events.clone(),
        );
        let import_tokens = import_tokens::ImportTokenService::new(
            store.clone(),
            keystore.clone(),
            clock.clone(),
            instances.clone(),
            access.clone(),
        );
        let keys = KeyService::new(
            store.clone(),
            keystore.clone(),
            clock.clone(),
            instances.clone(),
            access.clone(),
            import_tokens.clone(),
            events.clone(),
            settings.key_windows,
            audit.clone(),
        );
        let registrations = registrations::RegistrationService::new(
            store.clone(),
            clock.clone(),
            instances.clone(),
            access.clone(),
            keys.clone(),
        );
        let secrets = secrets::SecretsService::new(
            store.clone(),
            clock.clone(),
            instances.clone(),
            access.clone(),
            keys.clone(),
            registrations.clone(),
            events.clone(),
            audit.clone(),
            settings.secrets,
        );
        let reclamations = reclamations::ReclamationService::new(
            store.clone(),
            clock.clone(),
            instances.clone(),
            keys.clone(),
            secrets.clone(),
            events.clone(),
            audit.clone(),
            settings.reclamation_period,
        );
        Self {
            backup: backup::BackupService::new(
                store.clone(),
                keystore.clone(),
                clock.clone(),
                settings.backup.clone(),
            ),
            system: SystemService::new(store.clone(), keystore.clone(), clock.clone()),
            tokens: TokenService::new(store.clone(), keystore.clone(), clock.clone(), auth.clone()),
            key_rings: key_rings::KeyRingService::new(
                store.clone(),
                clock.clone(),
                instances.clone(),
                access.clone(),
                keys.clone(),
            ),
            instance_policies: instance_policies::InstancePolicyService::new(
                store.clone(),
                clock.clone(),
                instances.clone(),
                access.clone(),
            ),
            kmip: kmip::KmipService::new(
                store.clone(),
                clock.clone(),
                instances.clone(),
                access.clone(),
                keys.clone(),
            ),
            import_tokens,
            registrations: registrations.clone(),
            resource_controller: resource_controller::ResourceControllerService::new(
                store.clone(),
                clock.clone(),
                instances.clone(),
                secrets.clone(),
                reclamations.clone(),
            ),
            reclamations,
            secrets,
            iam: iam::IamService::new(
                store.clone(),
                clock.clone(),
                auth.clone(),
                access.clone(),
                instances.clone(),
                keys.clone(),
            ),
            keys,
            instances,
            auth,
            events,
            access,
            audit,
        }
    }

    /// Seals: drops the master key and every secret cached from it (token signing key, root
    /// key versions). Account administrators only.
    pub fn seal(&self, principal: &Principal) -> ServiceResult<arca_keystore::SealStatus> {
        let status = self.system.seal(principal)?;
        self.tokens.forget_keys();
        self.keys.forget_keys();
        self.secrets.forget_keys();
        Ok(status)
    }
}
