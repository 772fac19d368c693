//! Paging parameters shared by list endpoints: `page` (from 1) and `page_size` (1..=200).

use crate::error::ApiError;
use ota_core::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Items per page, 1–200 (default 20).
    pub page_size: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page, ApiError> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(20);
        if page < 1 {
            return Err(ApiError::invalid("page", "must be at least 1"));
        }
        if !(1..=200).contains(&size) {
            return Err(ApiError::invalid("page_size", "must be 1-200"));
        }
        Ok(Page {
            offset: (page - 1) * size,
            limit: size,
        })
    }
    /// [`PageQuery::page`] for a list that also pages by keyset: `after` (the previous
    /// page's `next_after`) and a page number past the first are refused together.
    pub fn keyset_page(&self, after: Option<&str>) -> Result<Page, ApiError> {
        if after.is_some() && self.page.is_some_and(|p| p != 1) {
            return Err(ApiError::invalid(
                "after",
                "give either page or after, not both",
            ));
        }
        self.page()
    }
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
    /// Where a list paged by keyset goes on: pass it as `after` for the next page. Absent
    /// on the last page and on lists paged by number only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, total: i64, page: Page) -> Self {
        Paged {
            items,
            total,
            page: page.offset / page.limit.max(1) + 1,
            page_size: page.limit,
            next_after: None,
        }
    }

    /// With the keyset of the next page: `key` of the last item, when the page is full.
    pub fn with_next_after(mut self, key: impl Fn(&T) -> String) -> Self {
        if self.items.len() as i64 >= self.page_size {
            self.next_after = self.items.last().map(key);
        }
        self
    }
}
