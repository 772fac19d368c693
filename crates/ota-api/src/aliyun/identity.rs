//! Device identity: DisableThing, EnableThing and ResetThing. The device is named by
//! `IotId` or by `ProductKey` + `DeviceName`, as in every device operation.

use super::{Answer, Ctx};
use ota_domain::DeviceKey;
use serde_json::json;

async fn device_key(ctx: &Ctx<'_>) -> Result<DeviceKey, ota_core::CoreError> {
    let p = ctx.params;
    let d = ctx
        .core
        .registry()
        .resolve_device(p.get("IotId"), p.get("ProductKey"), p.get("DeviceName"))
        .await?;
    Ok(DeviceKey {
        product_key: d.product_key,
        device_name: d.device_name,
    })
}

/// Refuses the device's connections and closes the one it has; its unfinished tasks wait.
pub async fn disable(ctx: &Ctx<'_>) -> Answer {
    let key = device_key(ctx).await?;
    ctx.core.registry().disable_device(&key, false).await?;
    Ok(json!({}))
}

pub async fn enable(ctx: &Ctx<'_>) -> Answer {
    let key = device_key(ctx).await?;
    ctx.core.registry().enable_device(&key).await?;
    Ok(json!({}))
}

/// Lets the device register dynamically again. Alibaba Cloud answers with the id of an
/// asynchronous job; here the reset is done when the call returns, and `JobId` names it.
pub async fn reset(ctx: &Ctx<'_>) -> Answer {
    let key = device_key(ctx).await?;
    ctx.core.registry().reset_device(&key).await?;
    Ok(json!({"JobId": format!("reset-{}", ctx.core.now())}))
}
