"""Redis-backed parts of the distributed mode (issue 17): a leased work queue and a
cluster-wide per-domain politeness budget. Pure Python over the redis client; no Scrapy, so
workers, the enqueuer and tests can use them without a crawler."""
