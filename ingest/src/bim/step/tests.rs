//! Tests of indexing and parsing whole STEP files.

use super::*;

fn file(data: &str) -> String {
    format!(
        "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n{data}\nENDSEC;\nEND-ISO-10303-21;\n"
    )
}

#[test]
fn parses_every_value_kind() {
    let f = StepFile::parse(
        file("#1=IFCX($,*,12,-3.5E-1,'a''b',.ELEMENT.,#7,(1,(2.,3.)),IFCLABEL('x'),\"0AF\",1.);\n#7=IFCY();")
            .into_bytes(),
    )
    .unwrap();
    assert_eq!(f.schemas, vec!["IFC4".to_string()]);
    let e = f.entity(1, None).unwrap();
    assert_eq!(e.ty, "IFCX");
    assert_eq!(
        e.args,
        vec![
            Value::Null,
            Value::Derived,
            Value::Int(12),
            Value::Real(-0.35),
            Value::Str("a'b".into()),
            Value::Enum("ELEMENT".into()),
            Value::Ref(7),
            Value::List(vec![
                Value::Int(1),
                Value::List(vec![Value::Real(2.0), Value::Real(3.0)])
            ]),
            Value::Typed("IFCLABEL".into(), Box::new(Value::Str("x".into()))),
            Value::Binary("0AF".into()),
            Value::Real(1.0),
        ]
    );
    assert_eq!(f.entity(7, None).unwrap().args, vec![]);
    assert_eq!(f.of_type("IFCX"), &[1]);
}

#[test]
fn skips_comments_and_reads_strings_with_parentheses_and_semicolons() {
    let f = StepFile::parse(
        file("/* a comment; with (parens */\n#1= IFCX('a;b)(', /* inside */ 2);").into_bytes(),
    )
    .unwrap();
    let e = f.entity(1, None).unwrap();
    assert_eq!(e.args, vec![Value::Str("a;b)(".into()), Value::Int(2)]);
}

#[test]
fn rejects_bad_files_with_their_location() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "empty (0 bytes)"),
        (b"hello".to_vec(), "not an IFC STEP file"),
        (
            file("#1=IFCX(1,2);\n#2=IFCY('abc").into_bytes(),
            "truncated",
        ),
        (
            "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX(1);\n#2=IFCX(2);\n"
                .as_bytes()
                .to_vec(),
            "after entity #2",
        ),
        (
            "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX(1,(2,3);\n"
                .as_bytes()
                .to_vec(),
            "entity #1",
        ),
        (
            file("#1=IFCX(1);\n#1=IFCX(2);").into_bytes(),
            "#1 is defined twice",
        ),
        (file("#1 IFCX(1);").into_bytes(), "expected '='"),
    ];
    for (bytes, want) in cases {
        let err = StepFile::parse(bytes).err().expect("refused").to_string();
        assert!(err.contains(want), "{err} should contain {want}");
    }
}

#[test]
fn names_the_entity_of_a_bad_value_and_finds_dangling_references() {
    let f = StepFile::parse(file("#1=IFCX(1,,2);\n#2=IFCY(#99,'#98');").into_bytes()).unwrap();
    let err = f.entity(1, None).unwrap_err().to_string();
    assert!(err.contains("entity #1"), "{err}");
    assert_eq!(f.dangling(), vec![(2, 99)]);
    let err = f.entity(99, Some((2, "IFCY"))).unwrap_err().to_string();
    assert!(err.contains("#2 (IFCY) refers to #99"), "{err}");
}
