-- A community changes its scheduled issuance by vote: the "change_issuance" proposal kind.
-- Applied with search_path = org_<id>.
ALTER TABLE proposals DROP CONSTRAINT proposals_kind_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_kind_check
    CHECK (kind IN ('issue_for_pledge', 'issue_to_account', 'fund_project', 'change_rules',
                    'change_issuance', 'admit_member', 'remove_member', 'set_role', 'free_text'));
ALTER TABLE rule_overrides DROP CONSTRAINT rule_overrides_proposal_kind_check;
ALTER TABLE rule_overrides ADD CONSTRAINT rule_overrides_proposal_kind_check
    CHECK (proposal_kind IN ('issue_for_pledge', 'issue_to_account', 'fund_project', 'change_rules',
                             'change_issuance', 'admit_member', 'remove_member', 'set_role',
                             'free_text'));
