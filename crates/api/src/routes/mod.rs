//! Handlers, one file per area.

pub(crate) mod audit;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod iam;
pub(crate) mod identity;
pub(crate) mod instances;
pub(crate) mod resource_controller;
pub(crate) mod sys;
