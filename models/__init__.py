"""Models: the attention zoo (models.attention) and the SASRec / BERT4Rec backbones (models.backbones)."""
