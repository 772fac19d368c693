//! OTA modules: CreateOTAModule, UpdateOTAModule, DeleteOTAModule, ListOTAModuleByProduct,
//! ListOTAModuleVersionsByDevice.

use super::envelope::{gmt, paging};
use super::{Answer, Ctx};
use ota_core::CoreError;
use ota_core::paging as page_rule;
use ota_domain::validate::{ModuleSpec, NewModule};
use ota_domain::{DeviceKey, ProductKey};
use serde_json::{Value, json};

/// The product and validated module of a CreateOTAModule or UpdateOTAModule request.
fn module_request(ctx: &Ctx<'_>) -> Result<(ProductKey, ModuleSpec), CoreError> {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let spec = NewModule {
        module_name: p.string("ModuleName"),
        alias_name: p.string("AliasName"),
        desc: p.string("Desc"),
    }
    .validate()?;
    Ok((pk, spec))
}

pub async fn create(ctx: &Ctx<'_>) -> Answer {
    let (pk, spec) = module_request(ctx)?;
    ctx.core
        .registry()
        .create_module(&pk, spec.module_name.as_str(), spec.alias_name, spec.desc)
        .await?;
    Ok(json!({}))
}

pub async fn update(ctx: &Ctx<'_>) -> Answer {
    let (pk, spec) = module_request(ctx)?;
    ctx.core
        .registry()
        .update_module(&pk, spec.module_name.as_str(), spec.alias_name, spec.desc)
        .await?;
    Ok(json!({}))
}

pub async fn delete(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let name = p.required("ModuleName")?;
    ctx.core.registry().product(&pk).await?;
    ctx.core.registry().delete_module(&pk, &name).await?;
    Ok(json!({}))
}

pub async fn list(ctx: &Ctx<'_>) -> Answer {
    let pk = ProductKey(ctx.params.required("ProductKey")?);
    ctx.core.registry().product(&pk).await?;
    let modules = ctx.core.registry().list_modules(&pk).await?;
    let list: Vec<Value> = modules
        .iter()
        .map(|m| {
            json!({
                "ProductKey": m.product_key,
                "ModuleName": m.module_name,
                "AliasName": m.alias_name,
                "Desc": m.description,
                "GmtCreate": gmt(m.created_at),
                "GmtModified": gmt(m.modified_at),
            })
        })
        .collect();
    Ok(json!({ "Data": list }))
}

pub async fn versions_by_device(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 200, false)?;
    let device = ctx
        .core
        .registry()
        .resolve_device(p.get("IotId"), p.get("ProductKey"), p.get("DeviceName"))
        .await?;
    let key = DeviceKey {
        product_key: device.product_key.clone(),
        device_name: device.device_name.clone(),
    };
    let (versions, total) = ctx
        .core
        .registry()
        .device_module_versions(&key, page)
        .await?;
    let list: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "ProductKey": v.product_key,
                "DeviceName": v.device_name,
                "IotId": device.iot_id,
                "ModuleName": v.module_name,
                "ModuleVersion": v.version,
            })
        })
        .collect();
    let mut out = paging(page, total);
    out.insert("Data".into(), json!({ "SimpleOTAModuleInfo": list }));
    Ok(Value::Object(out))
}
