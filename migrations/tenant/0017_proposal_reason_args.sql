-- Why a proposal was rejected or failed, as data (issue 13): `reason_code` names it and
-- `reason_args` carries its arguments (amounts in minor units, names, counts), so each reader
-- gets the sentence in their own language. `reason` keeps the English sentence of proposals
-- closed before this column existed; new ones leave it empty.
ALTER TABLE proposals ADD COLUMN reason_args jsonb;
