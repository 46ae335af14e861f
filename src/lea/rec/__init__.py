"""Sequential recommenders: backbones (GRU, SASRec), the two heads, inference."""
