"""Text of the demo corpus, written for PathAtlas (CC BY 4.0, PathAtlas contributors)."""

CHAPTERS = [
    {
        "title": "Cervical Epithelium and HPV",
        "paragraphs": [
            "The ectocervix is covered by non-keratinising stratified squamous epithelium. Persistent infection "
            "with high-risk human papillomavirus (HPV) causes squamous intraepithelial lesions.",
            "Koilocytes are the hallmark of productive HPV infection: superficial squamous cells with an "
            "enlarged, hyperchromatic, wrinkled (raisinoid) nucleus surrounded by a sharply outlined clear "
            "perinuclear halo. Binucleation is common.",
            "Low-grade squamous intraepithelial lesion (LSIL, CIN 1) shows koilocytic change in the upper "
            "layers; high-grade lesions (HSIL, CIN 2-3) show atypical basaloid cells through most of the "
            "epithelial thickness and strong block-positive p16 staining.",
        ],
        "figures": [
            {
                "pattern": "koilocytes",
                "title": "Koilocytes",
                "caption": "Koilocytes in cervical squamous epithelium: "
                "clear perinuclear halos around raisinoid nuclei.",
            },
        ],
    },
    {
        "title": "Granulomatous Inflammation",
        "paragraphs": [
            "A granuloma is a compact aggregate of epithelioid histiocytes, often with multinucleated giant "
            "cells and a rim of lymphocytes. It forms when macrophages cannot eliminate a persistent agent.",
            "Langhans giant cells carry many nuclei arranged in a horseshoe at the periphery of the cell. "
            "Caseating granulomas with central necrosis suggest tuberculosis; non-necrotising granulomas are "
            "typical of sarcoidosis and foreign-body reactions.",
            "Special stains help: Ziehl-Neelsen for acid-fast bacilli and Grocott methenamine silver for fungi.",
        ],
        "figures": [
            {
                "pattern": "granuloma",
                "title": "Granuloma with giant cell",
                "caption": "Epithelioid granuloma with a Langhans giant cell whose nuclei form a peripheral ring.",
            },
        ],
    },
    {
        "title": "Lung Carcinoma",
        "paragraphs": [
            "Adenocarcinoma is the commonest lung cancer. It forms glands, acini or papillae lined by "
            "atypical columnar cells, often produces mucin, and is typically TTF-1 and napsin A positive.",
            "Squamous cell carcinoma arises centrally near the bronchi, is strongly associated with smoking, "
            "and shows keratinisation with keratin pearls and intercellular bridges; it is p40 and CK5/6 positive.",
            "Benign lung parenchyma has thin alveolar septa lined by flat type I and cuboidal type II "
            "pneumocytes around open airspaces.",
        ],
        "figures": [
            {
                "pattern": "glands",
                "title": "Lung adenocarcinoma",
                "caption": "Crowded malignant glands lined by columnar cells around open lumens.",
            },
            {
                "pattern": "keratin-pearls",
                "title": "Squamous cell carcinoma",
                "caption": "Sheets of squamous cells with concentric keratin pearls.",
            },
        ],
    },
    {
        "title": "Lymphoid Neoplasms",
        "paragraphs": [
            "Lymphomas efface the architecture of lymph nodes with sheets of atypical lymphoid cells. "
            "Diffuse large B-cell lymphoma shows large cells with vesicular chromatin and CD20 positivity.",
            "Small round blue cell tumours form monotonous sheets of cells with scant cytoplasm; the "
            "differential includes lymphoma, Ewing sarcoma and small cell carcinoma, and immunohistochemistry decides.",
        ],
        "figures": [
            {
                "pattern": "small-blue-cells",
                "title": "Small round blue cells",
                "caption": "Monotonous sheets of small round blue cells in a lymph node.",
            },
            {
                "pattern": "alveoli",
                "title": "Benign lung",
                "caption": "Thin alveolar septa around open airspaces, shown for contrast.",
            },
        ],
    },
]

CASES = [
    {
        "case": "DEMO-01",
        "title": "LSIL with koilocytes, cervix",
        "diagnosis": "low-grade squamous intraepithelial lesion",
        "organ": "cervix",
        "pattern": "koilocytes",
    },
    {
        "case": "DEMO-02",
        "title": "Necrotising granulomas, lung",
        "diagnosis": "tuberculosis",
        "organ": "lung",
        "pattern": "granuloma",
    },
    {
        "case": "DEMO-03",
        "title": "Sarcoidosis, lymph node",
        "diagnosis": "sarcoidosis",
        "organ": "lymph node",
        "pattern": "granuloma",
    },
    {
        "case": "DEMO-04",
        "title": "Adenocarcinoma, lung",
        "diagnosis": "lung adenocarcinoma",
        "organ": "lung",
        "pattern": "glands",
    },
    {
        "case": "DEMO-05",
        "title": "Squamous cell carcinoma, lung",
        "diagnosis": "lung squamous cell carcinoma",
        "organ": "lung",
        "pattern": "keratin-pearls",
    },
    {
        "case": "DEMO-06",
        "title": "Benign lung parenchyma",
        "diagnosis": "benign lung tissue",
        "organ": "lung",
        "pattern": "alveoli",
    },
    {
        "case": "DEMO-07",
        "title": "Diffuse large B-cell lymphoma, lymph node",
        "diagnosis": "diffuse large B-cell lymphoma",
        "organ": "lymph node",
        "pattern": "small-blue-cells",
    },
    {
        "case": "DEMO-08",
        "title": "Colorectal adenocarcinoma",
        "diagnosis": "colorectal adenocarcinoma",
        "organ": "colon",
        "pattern": "glands",
    },
]
