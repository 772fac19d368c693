//! Products and devices: CreateProduct, UpdateProduct, QueryProduct, QueryProductList,
//! DeleteProduct, RegisterDevice, BatchCheckDeviceNames, BatchRegisterDevice,
//! BatchRegisterDeviceWithApplyId, QueryBatchRegisterDeviceStatus, QueryPageByApplyId,
//! QueryDeviceDetail, QueryDevice, DeleteDevice, GetDeviceStatus, BatchGetDeviceState.

use super::envelope::{gmt, paging, utc, utc_opt};
use super::{Answer, Ctx};
use ota_core::{id_list, paging as page_rule};
use ota_domain::registry::{DEFAULT_MODULE, Device, Product};
use ota_domain::{DeviceKey, DomainError, ProductKey};
use serde_json::{Value, json};

fn product(p: &Product) -> Value {
    json!({
        "ProductKey": p.product_key,
        "ProductName": p.product_name,
        "Description": p.description,
        "NodeType": 0,
        "DataFormat": 1,
        "AuthType": "secret",
        "AliyunCommodityCode": "iothub_senior",
        "ProtocolType": "MQTT",
        "GmtCreate": p.created_at,
    })
}

pub async fn create_product(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let name = p.required("ProductName")?;
    let created = ctx
        .core
        .registry()
        .create_product(&name, p.string("Description"))
        .await?;
    let mut data = product(&created);
    data["ProductSecret"] = json!(created.product_secret);
    Ok(json!({"ProductKey": created.product_key, "Data": data}))
}

pub async fn update_product(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let name = p.required("ProductName")?;
    ctx.core
        .registry()
        .update_product(&pk, Some(&name), p.string("Description"))
        .await?;
    Ok(json!({}))
}

pub async fn query_product(ctx: &Ctx<'_>) -> Answer {
    let pk = ProductKey(ctx.params.required("ProductKey")?);
    let found = ctx.core.registry().product(&pk).await?;
    let mut data = product(&found);
    data["ProductSecret"] = json!(found.product_secret);
    data["DeviceCount"] = json!(ctx.core.registry().device_count(&pk).await?);
    data["ProductStatus"] = json!("DEVELOPMENT_STATUS");
    data["Owner"] = json!(true);
    Ok(json!({ "Data": data }))
}

pub async fn list_products(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 200, true)?;
    let (items, total) = ctx.core.registry().list_products(page).await?;
    let mut list = Vec::with_capacity(items.len());
    for item in &items {
        let mut v = product(item);
        v["DeviceCount"] = json!(ctx.core.registry().device_count(&item.product_key).await?);
        list.push(v);
    }
    let mut data = paging(page, total);
    data.insert("List".into(), json!({ "ProductInfo": list }));
    Ok(json!({ "Data": data }))
}

pub async fn delete_product(ctx: &Ctx<'_>) -> Answer {
    let pk = ProductKey(ctx.params.required("ProductKey")?);
    ctx.core.registry().product(&pk).await?;
    ctx.core.registry().delete_product(&pk).await?;
    Ok(json!({}))
}

pub async fn register_device(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let name = p.string("DeviceName").filter(|n| !n.is_empty());
    let devices = ctx.core.registry().register_devices(&pk, &[name]).await?;
    let d = devices
        .first()
        .ok_or_else(|| DomainError::invalid("DeviceName", "no device was registered"))?;
    Ok(json!({"Data": {
        "IotId": d.iot_id,
        "ProductKey": d.product_key,
        "DeviceName": d.device_name,
        "DeviceSecret": d.device_secret,
        "Nickname": p.string("Nickname"),
    }}))
}

pub async fn check_device_names(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let mut names = p.list("DeviceName");
    if names.is_empty() {
        names = p
            .records("DeviceNameList")
            .into_iter()
            .map(|mut r| r.remove("DeviceName").unwrap_or_default())
            .collect();
    }
    let app = ctx.core.registry().check_device_names(&pk, names).await?;
    Ok(json!({"Data": {"ApplyId": app.apply_id}}))
}

pub async fn batch_register(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let count = p
        .int("Count")?
        .ok_or_else(|| DomainError::invalid("Count", "is required"))?;
    let app = ctx.core.registry().register_generated(&pk, count).await?;
    Ok(json!({"Data": {"ApplyId": app.apply_id}}))
}

fn apply_id(ctx: &Ctx<'_>) -> Result<i64, DomainError> {
    ctx.params
        .int("ApplyId")?
        .ok_or_else(|| DomainError::invalid("ApplyId", "is required"))
}

pub async fn register_with_apply_id(ctx: &Ctx<'_>) -> Answer {
    let pk = ProductKey(ctx.params.required("ProductKey")?);
    let app = ctx
        .core
        .registry()
        .register_application(&pk, apply_id(ctx)?)
        .await?;
    Ok(json!({"Data": {"ApplyId": app.apply_id}}))
}

pub async fn batch_status(ctx: &Ctx<'_>) -> Answer {
    let pk = ProductKey(ctx.params.required("ProductKey")?);
    let app = ctx.core.registry().application(apply_id(ctx)?).await?;
    if app.product_key != pk {
        return Err(DomainError::invalid("ProductKey", "is not the application's product").into());
    }
    Ok(json!({"Data": {
        "Status": app.status.as_str(),
        "ValidList": {"Name": app.names},
        "InvalidList": {"Name": []},
    }}))
}

pub async fn page_by_apply_id(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = apply_id(ctx)?;
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 50, true)?;
    let (devices, total) = ctx.core.registry().application_devices(id, page).await?;
    let list: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!({
                "DeviceKey": d.iot_id,
                "IotId": d.iot_id,
                "DeviceName": d.device_name,
                "DeviceSecret": d.device_secret,
            })
        })
        .collect();
    let mut out = paging(page, total);
    let current = out.remove("CurrentPage").unwrap_or(Value::Null);
    out.insert("Page".into(), current);
    out.insert("ApplyDeviceList".into(), json!({ "ApplyDeviceInfo": list }));
    Ok(Value::Object(out))
}

async fn resolve(ctx: &Ctx<'_>) -> Result<Device, ota_core::CoreError> {
    let p = ctx.params;
    ctx.core
        .registry()
        .resolve_device(p.get("IotId"), p.get("ProductKey"), p.get("DeviceName"))
        .await
}

fn key_of(d: &Device) -> DeviceKey {
    DeviceKey {
        product_key: d.product_key.clone(),
        device_name: d.device_name.clone(),
    }
}

pub async fn device_detail(ctx: &Ctx<'_>) -> Answer {
    let device = resolve(ctx).await?;
    let detail = ctx.core.registry().device_detail(&key_of(&device)).await?;
    let (status, last_online) = ctx.core.registry().device_status(&key_of(&device)).await?;
    let product = ctx.core.registry().product(&device.product_key).await?;
    let firmware = detail
        .versions
        .iter()
        .find(|v| v.module_name == DEFAULT_MODULE)
        .map(|v| v.version.clone());
    Ok(json!({"Data": {
        "IotId": device.iot_id,
        "ProductKey": device.product_key,
        "ProductName": product.product_name,
        "DeviceName": device.device_name,
        "DeviceSecret": device.device_secret,
        "Nickname": device.nickname,
        "FirmwareVersion": firmware,
        "Status": status.as_str(),
        "NodeType": 0,
        "Owner": true,
        "GmtCreate": gmt(device.created_at),
        "UtcCreate": utc(device.created_at),
        "GmtOnline": last_online.map(gmt),
        "UtcOnline": utc_opt(last_online),
        "GmtActive": last_online.map(gmt),
        "UtcActive": utc_opt(last_online),
    }}))
}

pub async fn list_devices(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 50, false)?;
    ctx.core.registry().product(&pk).await?;
    let (devices, total) = ctx
        .core
        .registry()
        .list_devices(Some(&pk), None, page)
        .await?;
    let mut list = Vec::with_capacity(devices.len());
    for d in &devices {
        let (status, _) = ctx.core.registry().device_status(&key_of(d)).await?;
        list.push(json!({
            "DeviceKey": d.iot_id,
            "IotId": d.iot_id,
            "ProductKey": d.product_key,
            "DeviceName": d.device_name,
            "DeviceSecret": d.device_secret,
            "Nickname": d.nickname,
            "DeviceStatus": status.as_str(),
            "DeviceType": "Device",
            "GmtCreate": gmt(d.created_at),
            "GmtModified": gmt(d.modified_at),
            "UtcCreate": utc(d.created_at),
            "UtcModified": utc(d.modified_at),
        }));
    }
    let mut out = paging(page, total);
    let current = out.remove("CurrentPage").unwrap_or(Value::Null);
    out.insert("Page".into(), current);
    out.insert("Data".into(), json!({ "DeviceInfo": list }));
    Ok(Value::Object(out))
}

pub async fn delete_device(ctx: &Ctx<'_>) -> Answer {
    let device = resolve(ctx).await?;
    ctx.core.registry().delete_device(&key_of(&device)).await?;
    Ok(json!({}))
}

pub async fn device_status(ctx: &Ctx<'_>) -> Answer {
    let device = resolve(ctx).await?;
    let (status, _) = ctx.core.registry().device_status(&key_of(&device)).await?;
    Ok(json!({"Data": {"Status": status.as_str(), "Timestamp": ctx.core.now()}}))
}

pub async fn batch_device_state(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let (names, ids) = (p.list("DeviceName"), p.list("IotId"));
    let mut devices = Vec::new();
    if !ids.is_empty() {
        for id in id_list("IotId", ids, 100)? {
            devices.push(
                ctx.core
                    .registry()
                    .device_by_iot_id_in("IotId", &id)
                    .await?,
            );
        }
    } else {
        let pk = p.required("ProductKey")?;
        for name in id_list("DeviceName", names, 100)? {
            devices.push(
                ctx.core
                    .registry()
                    .device(&DeviceKey::new(pk.as_str(), name))
                    .await?,
            );
        }
    }
    let mut list = Vec::with_capacity(devices.len());
    for d in &devices {
        let (status, last) = ctx.core.registry().device_status(&key_of(d)).await?;
        list.push(json!({
            "DeviceKey": d.iot_id,
            "IotId": d.iot_id,
            "DeviceName": d.device_name,
            "Status": status.as_str(),
            "LastOnlineTime": last.map(gmt),
            "Timestamp": last,
        }));
    }
    Ok(json!({"DeviceStatusList": {"DeviceStatus": list}}))
}
