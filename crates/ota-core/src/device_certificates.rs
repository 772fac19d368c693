//! X.509 device certificates: the CA certificates operators register per product, serials
//! they revoke, and the admission of a device that proved itself with a certificate.
//!
//! The gateway checks the certificate's chain against the CAs this module hands it and maps
//! its subject to a device (`ota_domain::certificate`); what remains is policy kept in the
//! store, read on every certificate CONNECT (no cache), so a change made through any node
//! refuses the next CONNECT on every node: a revoked serial, a disabled device, a device
//! that does not exist unless the product creates devices on first connect.

use crate::{CoreError, CoreResult, Registry};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ota_domain::registry::Product;
use ota_domain::{DeviceKey, DomainError, ErrorCode, ProductKey, certificate};
use ota_store::{DeviceCaRow, RevokedCertificateRow, StoreError};
use sha2::{Digest, Sha256};

/// Whether a certificate CONNECT admits its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateAdmission {
    /// The device exists and is enabled.
    Admitted,
    /// The device did not exist and was created (the product allows it).
    Created,
    /// The certificate's serial is revoked in the product.
    Revoked,
    /// The device is disabled.
    Disabled,
    /// No such device, and the product does not create devices on first connect.
    UnknownDevice,
}

impl CertificateAdmission {
    /// Whether the device may connect.
    pub fn admits(self) -> bool {
        matches!(
            self,
            CertificateAdmission::Admitted | CertificateAdmission::Created
        )
    }
}

fn invalid_certificate(message: impl Into<String>) -> CoreError {
    DomainError::invalid("certificate", message).into()
}

/// The DER of the one PEM `CERTIFICATE` block in `pem`.
fn one_certificate(pem: &str) -> CoreResult<Vec<u8>> {
    let mut blocks = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes());
    let first = match blocks.next() {
        Some(Ok(block)) if block.label == "CERTIFICATE" => block,
        Some(Ok(block)) => {
            return Err(invalid_certificate(format!(
                "must be a PEM CERTIFICATE block, not {}",
                block.label
            )));
        }
        Some(Err(_)) | None => {
            return Err(invalid_certificate("must be one PEM CERTIFICATE block"));
        }
    };
    if blocks.next().is_some() {
        return Err(invalid_certificate(
            "must be exactly one PEM CERTIFICATE block (register each CA on its own)",
        ));
    }
    Ok(first.contents)
}

/// Canonical PEM text of a certificate's DER.
fn pem_of(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn der_of(pem: &str) -> Option<Vec<u8>> {
    one_certificate(pem).ok()
}

impl Registry<'_> {
    /// Registers a CA certificate (PEM, one `CERTIFICATE` block) for a product: devices
    /// presenting certificates it issued may connect without a password. It must be a CA
    /// (basicConstraints `CA:TRUE`) and not expired.
    pub async fn add_device_ca(&self, pk: &ProductKey, pem: &str) -> CoreResult<DeviceCaRow> {
        self.product(pk).await?;
        let der = one_certificate(pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| invalid_certificate(format!("is not an X.509 certificate: {e}")))?;
        if !cert.is_ca() {
            return Err(invalid_certificate(
                "must be a CA certificate (basicConstraints CA:TRUE)",
            ));
        }
        let not_after = cert.validity().not_after.timestamp().saturating_mul(1000);
        let now = self.now();
        if not_after < now {
            return Err(invalid_certificate("has expired"));
        }
        let row = DeviceCaRow {
            product_key: pk.clone(),
            ca_id: hex::encode(Sha256::digest(&der)),
            certificate_pem: pem_of(&der),
            subject: cert.subject().to_string(),
            not_after,
            created_at: now,
        };
        self.store()
            .insert_device_ca(&row)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some("certificate"),
                    "this CA is already registered for the product",
                )
                .into(),
                other => CoreError::from(other),
            })?;
        Ok(row)
    }

    /// The product's registered CAs, oldest first.
    pub async fn device_cas(&self, pk: &ProductKey) -> CoreResult<Vec<DeviceCaRow>> {
        self.product(pk).await?;
        Ok(self.store().list_device_cas(pk).await?)
    }

    /// Removes a CA from a product: certificates it issued no longer log devices in (devices
    /// connected with one stay connected until they reconnect).
    pub async fn remove_device_ca(&self, pk: &ProductKey, ca_id: &str) -> CoreResult<()> {
        self.product(pk).await?;
        self.store()
            .delete_device_ca(pk, &ca_id.to_ascii_lowercase())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DomainError::not_found(
                    "ca_id",
                    format!("no CA {ca_id} is registered for product {pk}"),
                )
                .into(),
                other => CoreError::from(other),
            })
    }

    /// Revokes a device certificate serial in a product (typed as hex, with or without
    /// `:`); returns the serial as stored.
    pub async fn revoke_certificate(&self, pk: &ProductKey, serial: &str) -> CoreResult<String> {
        self.product(pk).await?;
        let serial = certificate::serial(serial)?;
        self.store()
            .revoke_certificate(pk, &serial, self.now())
            .await?;
        Ok(serial)
    }

    /// Takes a revocation back.
    pub async fn unrevoke_certificate(&self, pk: &ProductKey, serial: &str) -> CoreResult<()> {
        self.product(pk).await?;
        let serial = certificate::serial(serial)?;
        self.store()
            .unrevoke_certificate(pk, &serial)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DomainError::not_found(
                    "serial",
                    format!("serial {serial} is not revoked in product {pk}"),
                )
                .into(),
                other => CoreError::from(other),
            })
    }

    /// The product's revoked serials, most recent first.
    pub async fn revoked_certificates(
        &self,
        pk: &ProductKey,
    ) -> CoreResult<Vec<RevokedCertificateRow>> {
        self.product(pk).await?;
        Ok(self.store().list_revoked_certificates(pk).await?)
    }

    /// Turns creating devices on their first certificate connect on or off for a product.
    pub async fn set_certificate_auto_create(
        &self,
        pk: &ProductKey,
        allowed: bool,
    ) -> CoreResult<Product> {
        let mut product = self.product(pk).await?;
        product.certificate_auto_create = allowed;
        product.modified_at = self.now();
        self.store().update_product(&product).await?;
        Ok(product)
    }

    /// The DER of the CAs registered for a product (none for an unknown product), for the
    /// gateway's chain check at a certificate CONNECT.
    pub async fn certificate_authorities(&self, pk: &ProductKey) -> CoreResult<Vec<Vec<u8>>> {
        let rows = self.store().list_device_cas(pk).await?;
        Ok(rows
            .iter()
            .filter_map(|r| der_of(&r.certificate_pem))
            .collect())
    }

    /// Whether a device whose certificate (serial in stored form) chained to one of its
    /// product's CAs may connect; creates it when it does not exist and the product allows.
    pub async fn admit_certificate(
        &self,
        device: &DeviceKey,
        serial: &str,
    ) -> CoreResult<CertificateAdmission> {
        let store = self.store();
        if store
            .certificate_revoked(&device.product_key, serial)
            .await?
        {
            return Ok(CertificateAdmission::Revoked);
        }
        if let Some(found) = store.get_device(device).await? {
            return Ok(match found.disabled {
                true => CertificateAdmission::Disabled,
                false => CertificateAdmission::Admitted,
            });
        }
        let Some(product) = store.get_product(&device.product_key).await? else {
            return Ok(CertificateAdmission::UnknownDevice);
        };
        if !product.certificate_auto_create {
            return Ok(CertificateAdmission::UnknownDevice);
        }
        let name = Some(device.device_name.as_str().to_owned());
        match self
            .register_devices(&device.product_key, std::slice::from_ref(&name))
            .await
        {
            Ok(_) => {
                tracing::info!(%device, "device created on its first certificate connect");
                Ok(CertificateAdmission::Created)
            }
            // Created meanwhile by another connect (or node): admitted as it now stands.
            Err(CoreError::Domain(e)) if e.code == ErrorCode::AlreadyExists => {
                Ok(match store.get_device(device).await? {
                    Some(d) if !d.disabled => CertificateAdmission::Admitted,
                    Some(_) => CertificateAdmission::Disabled,
                    None => CertificateAdmission::UnknownDevice,
                })
            }
            Err(e) => Err(e),
        }
    }
}
