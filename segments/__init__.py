"""Who? Customer features in SQL, RFM, marketer rules, clusters, predictions, lifecycle, snapshots."""
