//! Packages: upload credentials, CreateOTAFirmware, ModifyOTAFirmware, DeleteOTAFirmware,
//! QueryOTAFirmware, ListOTAFirmware, GenerateDeviceNameListURL.

use super::envelope::{paging, utc};
use super::{Answer, Ctx, oss};
use ota_core::{UploadPurpose, package_upload, paging as page_rule};
use ota_domain::firmware::Firmware;
use ota_domain::validate::{ModifyFirmware, MultiFileInput, NewFirmware, parse_int};
use ota_domain::{DomainError, FirmwareId, ProductKey};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub async fn generate_upload_url(ctx: &Ctx<'_>) -> Answer {
    let purpose = package_upload(ctx.params.get("FileSuffix"))?;
    let grant = ctx.core.firmwares().grant_upload(purpose).await?;
    let form = oss::form(ctx.core, &grant, ctx.caller);
    Ok(json!({"Data": {
        "FirmwareUrl": form.file_url,
        "Host": form.host,
        "Key": grant.key,
        "OSSAccessKeyId": ctx.caller.key_id,
        "ObjectStorage": "OSS",
        "Policy": form.policy,
        "Signature": form.signature,
        "UtcCreate": utc(grant.created_at),
    }}))
}

pub async fn generate_device_list_url(ctx: &Ctx<'_>) -> Answer {
    let grant = ctx
        .core
        .firmwares()
        .grant_upload(UploadPurpose::DeviceList)
        .await?;
    let form = oss::form(ctx.core, &grant, ctx.caller);
    Ok(json!({"Data": {
        "AccessKeyId": ctx.caller.key_id,
        "FileUrl": form.file_url,
        "Host": form.host,
        "Key": grant.key,
        "ObjectStorage": "OSS",
        "Policy": form.policy,
        "Signature": form.signature,
        "UtcCreate": utc(grant.created_at),
    }}))
}

fn multi_file(
    index: usize,
    mut r: BTreeMap<String, String>,
) -> Result<MultiFileInput, DomainError> {
    let size = r
        .remove("Size")
        .map(|s| parse_int(&format!("MultiFiles.{}.Size", index + 1), &s))
        .transpose()?;
    Ok(MultiFileInput {
        name: r.remove("Name"),
        url: r.remove("Url"),
        size,
        file_md5: r.remove("FileMd5"),
        sign_value: r.remove("SignValue"),
    })
}

pub async fn create(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let raw = NewFirmware {
        firmware_name: p.string("FirmwareName"),
        dest_version: p.string("DestVersion"),
        src_version: p.string("SrcVersion").filter(|s| !s.is_empty()),
        firmware_type: p.int("Type")?,
        firmware_desc: p.string("FirmwareDesc"),
        module_name: p.string("ModuleName").filter(|s| !s.is_empty()),
        firmware_url: p.string("FirmwareUrl"),
        firmware_size: p.int("FirmwareSize")?,
        firmware_sign: p.string("FirmwareSign"),
        sign_method: p.string("SignMethod"),
        need_to_verify: p.bool("NeedToVerify")?,
        udi: p.string("Udi"),
        multi_files: p
            .records("MultiFiles")
            .into_iter()
            .enumerate()
            .map(|(i, r)| multi_file(i, r))
            .collect::<Result<_, _>>()?,
    };
    let spec = raw.validate()?;
    let pk = ProductKey(p.required("ProductKey")?);
    // Aliyun has no delta parameters: the server default applies (full packages only).
    let (firmware, _) = ctx
        .core
        .deltas()
        .create_firmware_with_deltas(&pk, spec, None)
        .await?;
    Ok(json!({"Data": {
        "FirmwareId": firmware.firmware_id,
        "UtcCreate": utc(firmware.created_at),
    }}))
}

pub async fn modify(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = FirmwareId(p.required("FirmwareId")?);
    let pk = ProductKey(p.required("ProductKey")?);
    let changes = ModifyFirmware {
        firmware_name: p.string("FirmwareName"),
        firmware_desc: p.string("FirmwareDesc"),
        firmware_udi: p.string("FirmwareUdi"),
    }
    .validate()?;
    ctx.core.firmwares().firmware_of_product(&id, &pk).await?;
    ctx.core.firmwares().modify(&id, changes).await?;
    Ok(json!({}))
}

pub async fn delete(ctx: &Ctx<'_>) -> Answer {
    let id = FirmwareId(ctx.params.required("FirmwareId")?);
    ctx.core.firmwares().delete(&id).await?;
    Ok(json!({}))
}

pub async fn query(ctx: &Ctx<'_>) -> Answer {
    let id = FirmwareId(ctx.params.required("FirmwareId")?);
    let f = ctx.core.firmwares().get(&id).await?;
    let names = ctx
        .core
        .registry()
        .product_names([f.product_key.clone()].into())
        .await?;
    let mut info = simple(&f, names.get(&f.product_key));
    info["Udi"] = json!(f.udi);
    info["VerifyProgress"] = json!(f.verify_progress);
    let now = ctx.core.now();
    if f.multi_file {
        let mut files = Vec::with_capacity(f.files.len());
        for file in &f.files {
            files.push(json!({
                "Name": file.name,
                "Url": ctx.core.delivery().download_url(file, now).await?,
                "Size": file.size,
                "FileMd5": file.md5,
                "SignValue": file.sign_value,
            }));
        }
        info["MultiFiles"] = json!(files);
    } else if let Some(file) = f.main_file() {
        info["FirmwareUrl"] = json!(ctx.core.delivery().download_url(file, now).await?);
    }
    Ok(json!({ "FirmwareInfo": info }))
}

pub async fn list(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 100, true)?;
    let pk = p
        .string("ProductKey")
        .filter(|s| !s.is_empty())
        .map(ProductKey);
    let dest = p.string("DestVersion").filter(|s| !s.is_empty());
    let (items, total) = ctx
        .core
        .firmwares()
        .list(pk.as_ref(), dest.as_deref(), page)
        .await?;
    let names = ctx
        .core
        .registry()
        .product_names(items.iter().map(|f| f.product_key.clone()).collect())
        .await?;
    let list: Vec<Value> = items
        .iter()
        .map(|f| simple(f, names.get(&f.product_key)))
        .collect();
    let mut out = paging(page, total);
    out.insert("FirmwareInfo".into(), json!({ "SimpleFirmwareInfo": list }));
    Ok(Value::Object(out))
}

/// The fields QueryOTAFirmware and ListOTAFirmware share.
fn simple(f: &Firmware, product_name: Option<&String>) -> Value {
    let file = (!f.multi_file).then(|| f.main_file()).flatten();
    json!({
        "FirmwareId": f.firmware_id,
        "FirmwareName": f.firmware_name,
        "FirmwareDesc": f.firmware_desc,
        "DestVersion": f.dest_version,
        "SrcVersion": f.src_version,
        "ModuleName": f.module_name,
        "ProductKey": f.product_key,
        "ProductName": product_name,
        "SignMethod": f.sign_method.api_literal(),
        "FirmwareSign": file.map(|x| &x.sign_value),
        "FirmwareSize": file.map(|x| x.size),
        "Status": f.status.code(),
        "Type": f.firmware_type.code(),
        "UtcCreate": utc(f.created_at),
        "UtcModified": utc(f.modified_at),
    })
}
