//! Translating device selections (group membership, [`DeviceFilter`]) into SQL predicates
//! over `devices d`.

use crate::devices::push_name_prefix;
use crate::q::Q;
use ota_domain::registry::{DeviceFilter, Group, GroupKind};

/// Appends ` AND …` clauses that hold exactly when `filter.matches` would.
pub(crate) fn push_filter(q: &mut Q, filter: &DeviceFilter) {
    if let Some(pk) = &filter.product_key {
        q.push(" AND d.product_key = ").bind(pk.as_str());
    }
    if let Some(prefix) = &filter.name_prefix {
        push_name_prefix(q, prefix);
    }
    for (k, v) in &filter.tags {
        q.push(
            " AND EXISTS (SELECT 1 FROM device_tags ft WHERE ft.device_id = d.id \
             AND ft.tag_key = ",
        )
        .bind(k.as_str())
        .push(" AND ft.tag_value = ")
        .bind(v.as_str())
        .push(")");
    }
    for (module, versions) in &filter.module_versions {
        if versions.is_empty() {
            // No acceptable version: nothing matches (as in `DeviceFilter::matches`).
            q.push(" AND 1 = 0");
            continue;
        }
        q.push(
            " AND EXISTS (SELECT 1 FROM module_versions fm WHERE fm.device_id = d.id \
             AND fm.module_name = ",
        )
        .bind(module.as_str())
        .push(" AND fm.version IN (")
        .bind_list(versions.iter().map(String::as_str))
        .push("))");
    }
}

/// Appends ` AND …` clauses selecting the members of `group`: listed members of a static
/// group; for a dynamic group, the devices of its product matching its filter now.
pub(crate) fn push_group(q: &mut Q, group: &Group) {
    match &group.kind {
        GroupKind::Static => {
            // One membership probe per device: an IN list of the whole group would be
            // rebuilt for each chunk of a batch's creation walk.
            q.push(
                " AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.device_id = d.id \
                 AND gm.group_id = ",
            )
            .bind(group.group_id.as_str())
            .push(")");
        }
        GroupKind::Dynamic { filter } => {
            if let Some(pk) = &group.product_key {
                q.push(" AND d.product_key = ").bind(pk.as_str());
            }
            push_filter(q, filter);
        }
    }
}
