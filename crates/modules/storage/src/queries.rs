//! The storage routes as a node client reads them (feature `client`).

use crate::views::{DealPage, DealView, ProviderPage, ProviderView};
use depin_client::{ClientError, NodeClient, Paged};
use depin_types::Hash32;

impl Paged for ProviderPage {
    type Item = ProviderView;
    fn height(&self) -> u64 {
        self.height
    }
    fn into_parts(self) -> (Vec<ProviderView>, Option<String>) {
        (self.providers, self.next)
    }
}

impl Paged for DealPage {
    type Item = DealView;
    fn height(&self) -> u64 {
        self.height
    }
    fn into_parts(self) -> (Vec<DealView>, Option<String>) {
        (self.deals, self.next)
    }
}

/// Every storage provider as of `height` (latest when `None`): `(height, providers)`.
///
/// Errors: the node's, transport and decoding errors.
pub async fn all_providers(
    node: &NodeClient,
    height: Option<u64>,
) -> Result<(u64, Vec<ProviderView>), ClientError> {
    node.all_pages::<ProviderPage>("/v1/storage/providers", height)
        .await
}

/// Every storage deal as of `height` (latest when `None`): `(height, deals)`.
///
/// Errors: as [`all_providers`].
pub async fn all_deals(
    node: &NodeClient,
    height: Option<u64>,
) -> Result<(u64, Vec<DealView>), ClientError> {
    node.all_pages::<DealPage>("/v1/storage/deals", height)
        .await
}

/// Storage deal `id` (a 404 `not_found` when there is none).
///
/// Errors: as [`all_providers`].
pub async fn deal(node: &NodeClient, id: &Hash32) -> Result<DealView, ClientError> {
    node.get(&format!("/v1/storage/deals/{id}")).await
}
