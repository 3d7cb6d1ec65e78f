"""What the synthetic store sells and to whom: markets, names, carriers, categories, products.

Names are common given names and surnames of each market; Korean and Arabic names carry
a romanised form for the e-mail address. Prices are in the store's one currency (EUR).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Market:
    """One country the store sells to: its language, time zones, names, carriers and phones."""

    locale: str
    country: str
    share: float  # of customers
    zones: tuple[tuple[str, float], ...]  # IANA zone and its share within the market
    first_names: tuple[str, ...]  # "native" or "native|romanised"
    last_names: tuple[str, ...]
    carriers: tuple[str, ...]
    ios_share: float  # of push devices


MARKETS: tuple[Market, ...] = (
    Market(
        "en",
        "GB",
        0.20,
        (("Europe/London", 1.0),),
        ("Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "George", "Emily", "Noah", "Grace"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Walker"),
        ("Royal Mail", "DPD", "Evri"),
        0.52,
    ),
    Market(
        "en",
        "US",
        0.10,
        (("America/New_York", 0.5), ("America/Chicago", 0.3), ("America/Los_Angeles", 0.2)),
        ("Liam", "Olivia", "Noah", "Emma", "James", "Sophia", "Mason", "Mia", "Ethan", "Harper"),
        ("Johnson", "Williams", "Miller", "Davis", "Garcia", "Moore", "Anderson", "Thomas"),
        ("UPS", "USPS", "FedEx"),
        0.58,
    ),
    Market(
        "tr",
        "TR",
        0.12,
        (("Europe/Istanbul", 1.0),),
        ("Ayşe", "Mehmet", "Zeynep", "Mustafa", "Elif", "Emre", "Fatma", "Can", "Yusuf", "Ece"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Aydın", "Öztürk", "Arslan"),
        ("Yurtiçi Kargo", "Aras Kargo", "PTT Kargo"),
        0.25,
    ),
    Market(
        "hu",
        "HU",
        0.07,
        (("Europe/Budapest", 1.0),),
        ("Bence", "Anna", "Máté", "Hanna", "Levente", "Zsófia", "Dániel", "Réka", "Ádám", "Luca"),
        ("Nagy", "Kovács", "Tóth", "Szabó", "Horváth", "Varga", "Kiss", "Molnár"),
        ("GLS", "Magyar Posta", "Foxpost"),
        0.30,
    ),
    Market(
        "ko",
        "KR",
        0.09,
        (("Asia/Seoul", 1.0),),
        (
            "민준|minjun",
            "서연|seoyeon",
            "도윤|doyun",
            "지우|jiwoo",
            "하준|hajun",
            "서윤|seoyun",
            "지호|jiho",
            "하은|haeun",
        ),
        ("김|kim", "이|lee", "박|park", "최|choi", "정|jung", "강|kang", "조|cho", "윤|yoon"),
        ("CJ대한통운", "한진택배", "롯데택배"),
        0.30,
    ),
    Market(
        "de",
        "DE",
        0.12,
        (("Europe/Berlin", 1.0),),
        ("Lukas", "Mia", "Leon", "Hannah", "Finn", "Lea", "Jonas", "Lena", "Paul", "Marie"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner", "Hoffmann"),
        ("DHL", "Hermes", "DPD"),
        0.35,
    ),
    Market(
        "fr",
        "FR",
        0.09,
        (("Europe/Paris", 1.0),),
        ("Gabriel", "Louise", "Léo", "Chloé", "Raphaël", "Inès", "Hugo", "Léa", "Jules", "Jade"),
        ("Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Girard"),
        ("Colissimo", "Chronopost", "Mondial Relay"),
        0.35,
    ),
    Market(
        "pl",
        "PL",
        0.07,
        (("Europe/Warsaw", 1.0),),
        ("Jakub", "Zuzanna", "Antoni", "Julia", "Jan", "Maja", "Szymon", "Hanna", "Filip", "Zofia"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński"),
        ("InPost", "DPD", "Poczta Polska"),
        0.28,
    ),
    Market(
        "sv",
        "SE",
        0.06,
        (("Europe/Stockholm", 1.0),),
        ("William", "Alice", "Hugo", "Maja", "Lucas", "Elsa", "Oscar", "Astrid", "Liam", "Vera"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson"),
        ("PostNord", "DHL", "Budbee"),
        0.45,
    ),
    Market(
        "ar",
        "SA",
        0.02,
        (("Asia/Riyadh", 1.0),),
        (
            "محمد|mohammed",
            "فاطمة|fatima",
            "أحمد|ahmed",
            "نورة|noura",
            "عبدالله|abdullah",
            "سارة|sara",
        ),
        ("العتيبي|alotaibi", "القحطاني|alqahtani", "الشمري|alshammari", "الحربي|alharbi"),
        ("Aramex", "SMSA Express"),
        0.55,
    ),
    Market(
        "ar",
        "EG",
        0.02,
        (("Africa/Cairo", 1.0),),
        ("محمد|mohamed", "مريم|mariam", "عمر|omar", "ياسمين|yasmin", "يوسف|youssef", "نور|nour"),
        ("حسن|hassan", "إبراهيم|ibrahim", "السيد|elsayed", "مصطفى|mostafa"),
        ("Aramex", "Bosta"),
        0.25,
    ),
    Market(
        "pt-BR",
        "BR",
        0.04,
        (("America/Sao_Paulo", 1.0),),
        ("Miguel", "Helena", "Arthur", "Alice", "Heitor", "Laura", "Davi", "Valentina"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira"),
        ("Correios", "Jadlog", "Loggi"),
        0.15,
    ),
)


@dataclass(frozen=True)
class Category:
    """One product category: how popular, how dear, how often restocked and returned."""

    name: str
    weight: float  # popularity as a favourite category
    price: float  # median unit price
    replenish_days: int | None  # consumables run out on a rhythm
    return_rate: float  # share of lines returned
    products: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "skincare",
        0.12,
        24.0,
        45,
        0.02,
        (
            "Daily Moisturiser 50 ml",
            "Gentle Cleanser 200 ml",
            "Vitamin C Serum 30 ml",
            "SPF 50 Fluid 50 ml",
            "Night Cream 50 ml",
            "Hydrating Toner 200 ml",
        ),
    ),
    Category(
        "haircare",
        0.08,
        14.0,
        40,
        0.02,
        (
            "Repair Shampoo 250 ml",
            "Conditioner 250 ml",
            "Hair Mask 200 ml",
            "Scalp Oil 50 ml",
            "Dry Shampoo 200 ml",
        ),
    ),
    Category(
        "coffee",
        0.12,
        11.0,
        21,
        0.01,
        (
            "Espresso Beans 1 kg",
            "Filter Roast 250 g",
            "Decaf Beans 500 g",
            "House Blend 500 g",
            "Single Origin Ethiopia 250 g",
            "Capsules x50",
        ),
    ),
    Category(
        "pet_food",
        0.09,
        32.0,
        30,
        0.01,
        (
            "Adult Dog Food 12 kg",
            "Kitten Food 2 kg",
            "Senior Cat Food 4 kg",
            "Dog Treats 500 g",
            "Grain-Free Dog Food 6 kg",
        ),
    ),
    Category(
        "vitamins",
        0.07,
        18.0,
        60,
        0.01,
        ("Vitamin D3 x90", "Omega-3 x120", "Magnesium x60", "Multivitamin x90", "Iron x60"),
    ),
    Category(
        "books",
        0.10,
        15.0,
        None,
        0.03,
        (
            "Paperback Novel",
            "Cookbook",
            "Travel Guide",
            "Children's Picture Book",
            "Biography",
            "Crime Thriller",
        ),
    ),
    Category(
        "toys",
        0.08,
        22.0,
        None,
        0.04,
        (
            "Building Blocks Set",
            "Puzzle 1000 pieces",
            "Plush Bear",
            "Board Game",
            "Wooden Train Set",
        ),
    ),
    Category(
        "home",
        0.12,
        35.0,
        None,
        0.05,
        (
            "Scented Candle",
            "Linen Cushion Cover",
            "Ceramic Mug Set",
            "Bath Towel Set",
            "Table Lamp",
            "Storage Basket",
        ),
    ),
    Category(
        "fashion",
        0.14,
        42.0,
        None,
        0.14,
        (
            "Cotton T-Shirt",
            "Slim Jeans",
            "Knit Sweater",
            "Rain Jacket",
            "Leather Belt",
            "Running Shoes",
        ),
    ),
    Category(
        "electronics",
        0.08,
        89.0,
        None,
        0.06,
        (
            "Wireless Earbuds",
            "Phone Charger 30 W",
            "Bluetooth Speaker",
            "Smart Plug",
            "Power Bank 10000 mAh",
            "USB-C Cable 2 m",
        ),
    ),
)
