"""Models: the attention zoo (models.attention) and, in later issues, the SASRec / BERT4Rec backbones."""
