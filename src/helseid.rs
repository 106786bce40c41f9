//! HelseID organization numbers: the `helseid_authorization` object a client sends as the
//! `assertion_details` claim of its client assertion (`clientAuth.claims`) or as the
//! `authorization_details` parameter (`extraParams`), per NHN's documentation on organization
//! numbers: a single-tenant client names the child organization (the "underenhet") in the
//! `2.16.578.1.12.4.1.4.101` system; a multi-tenant client names the parent organization, and
//! optionally the child, as `NO:ORGNR:<parent>[:<child>]` in the `1.0.6523` system.

use crate::json::Value;

use crate::error::{Result, TokenError};
use crate::jose::object;

const SINGLE_TENANT_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.101";
const MULTI_TENANT_SYSTEM: &str = "urn:oid:1.0.6523";

fn org_number(field: &str, value: &str) -> Result<()> {
    if value.len() == 9 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(TokenError::argument(field, "must be a 9-digit Norwegian organization number"))
    }
}

/// The `helseid_authorization` object for `parent` (multi-tenant) and/or `child` organization numbers.
pub fn authorization(parent: Option<&str>, child: Option<&str>) -> Result<Value> {
    if let Some(p) = parent {
        org_number("parentOrganization", p)?;
    }
    if let Some(c) = child {
        org_number("childOrganization", c)?;
    }
    let (system, value) = match (parent, child) {
        (Some(p), Some(c)) => (MULTI_TENANT_SYSTEM, cat!("NO:ORGNR:", p, ":", c)),
        (Some(p), None) => (MULTI_TENANT_SYSTEM, cat!("NO:ORGNR:", p)),
        (None, Some(c)) => (SINGLE_TENANT_SYSTEM, c.to_owned()),
        (None, None) => {
            return Err(TokenError::argument("parentOrganization", "or childOrganization is required"))
        }
    };
    let identifier = object([("system", system.into()), ("type", "ENH".into()), ("value", value.into())]);
    let organization = object([("identifier", identifier.into())]);
    let role = object([("organization", organization.into())]);
    Ok(object([("type", "helseid_authorization".into()), ("practitioner_role", role.into())]).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_tenant_names_parent_and_child() {
        let v = authorization(Some("994598759"), Some("123456789")).unwrap();
        let id = &v["practitioner_role"]["organization"]["identifier"];
        assert_eq!(v["type"], "helseid_authorization");
        assert_eq!((id["system"].as_str(), id["type"].as_str()), (Some(MULTI_TENANT_SYSTEM), Some("ENH")));
        assert_eq!(id["value"], "NO:ORGNR:994598759:123456789");
        let parent_only = authorization(Some("994598759"), None).unwrap();
        assert_eq!(
            parent_only["practitioner_role"]["organization"]["identifier"]["value"],
            "NO:ORGNR:994598759"
        );
    }

    #[test]
    fn single_tenant_names_the_child_in_its_own_system() {
        let v = authorization(None, Some("123456789")).unwrap();
        let id = &v["practitioner_role"]["organization"]["identifier"];
        assert_eq!(
            (id["system"].as_str(), id["value"].as_str()),
            (Some(SINGLE_TENANT_SYSTEM), Some("123456789"))
        );
    }

    #[test]
    fn organization_numbers_are_checked() {
        assert_eq!(
            authorization(Some("12345"), None).unwrap_err().message,
            "parentOrganization: must be a 9-digit Norwegian organization number"
        );
        assert!(authorization(None, None).is_err());
    }
}
