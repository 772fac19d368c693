//! Device groups: CreateDeviceGroup, DeleteDeviceGroup, BatchAddDeviceGroupRelations,
//! QueryDeviceGroupList, QueryDeviceListByDeviceGroup. Groups are flat (no sub-groups) and
//! hold devices of one product, fixed by the first devices added.

use super::envelope::{paging, utc};
use super::{Answer, Ctx};
use ota_core::Page;
use ota_core::paging as page_rule;
use ota_domain::registry::GroupKind;
use ota_domain::{DomainError, GroupId};
use serde_json::{Value, json};

fn no_sub_groups(ctx: &Ctx<'_>) -> Result<(), DomainError> {
    match ctx.params.get("SuperGroupId") {
        Some(id) if !id.is_empty() => Err(DomainError::invalid(
            "SuperGroupId",
            "is not supported: groups have no sub-groups",
        )),
        _ => Ok(()),
    }
}

pub async fn create(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    no_sub_groups(ctx)?;
    let name = p.required("GroupName")?;
    let group = ctx
        .core
        .registry()
        .create_group(&name, None, p.string("GroupDesc"), None)
        .await?;
    Ok(json!({"Data": {
        "GroupId": group.group_id,
        "GroupName": group.group_name,
        "GroupDesc": group.description,
        "UtcCreate": utc(group.created_at),
    }}))
}

pub async fn delete(ctx: &Ctx<'_>) -> Answer {
    let id = GroupId(ctx.params.required("GroupId")?);
    ctx.core.registry().group(&id).await?;
    ctx.core.registry().delete_group(&id).await?;
    Ok(json!({}))
}

pub async fn add_devices(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = GroupId(p.required("GroupId")?);
    let devices = p
        .records("Device")
        .into_iter()
        .map(|mut r| (r.remove("ProductKey"), r.remove("DeviceName")))
        .collect();
    let done = ctx.core.tasks().relate_group_devices(&id, devices).await?;
    Ok(json!({
        "ValidDeviceCount": done.valid,
        "AlreadyRelatedGroupDeviceCount": done.already_related,
        "SuccessAddedDeviceCount": done.added,
        "ExceedTenGroupDeviceCount": 0,
    }))
}

pub async fn list(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    no_sub_groups(ctx)?;
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 200, false)?;
    let name = p.get("GroupName").filter(|n| !n.is_empty());
    let (groups, _) = ctx
        .core
        .registry()
        .list_groups(None, Page::new(0, 100_000))
        .await?;
    let matching: Vec<_> = groups
        .into_iter()
        .filter(|g| name.is_none_or(|n| g.group_name.contains(n)))
        .collect();
    let total = matching.len() as i64;
    let list: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .map(|g| {
            json!({
                "GroupId": g.group_id,
                "GroupName": g.group_name,
                "GroupDesc": g.description,
                "GroupType": match g.kind {
                    GroupKind::Static => "LINK_PLATFORM",
                    GroupKind::Dynamic { .. } => "LINK_PLATFORM_DYNAMIC",
                },
                "UtcCreate": utc(g.created_at),
            })
        })
        .collect();
    let mut out = paging(page, total);
    out.insert("Data".into(), json!({ "GroupInfo": list }));
    Ok(Value::Object(out))
}

pub async fn members(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = GroupId(p.required("GroupId")?);
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 200, false)?;
    ctx.core.registry().group(&id).await?;
    let (devices, total) = ctx.core.registry().group_members(&id, page).await?;
    let names = ctx
        .core
        .registry()
        .product_names(devices.iter().map(|d| d.product_key.clone()).collect())
        .await?;
    let list: Vec<Value> = devices
        .iter()
        .map(|d| {
            json!({
                "ProductKey": d.product_key,
                "ProductName": names.get(&d.product_key),
                "DeviceName": d.device_name,
                "IotId": d.iot_id,
            })
        })
        .collect();
    let mut out = paging(page, total);
    let current = out.remove("CurrentPage").unwrap_or(Value::Null);
    out.insert("Page".into(), current);
    out.insert("Data".into(), json!({ "SimpleDeviceInfo": list }));
    Ok(Value::Object(out))
}
