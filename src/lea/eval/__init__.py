"""Full-ranking evaluation: per-case ranks, HR@k, NDCG@k."""
