"""Paper forms as data [QuestionnaireResponse]: SH.MR.FRM.05 nursing assessment and
SH.MR.FRM.04 radiology assessment, with submissions and amendment history."""
