"""Markets of the synthetic store: language, time zone, country, share and typical names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Market:
    locale: str
    time_zone: str
    country: str
    share: float
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


MARKETS: tuple[Market, ...] = (
    Market(
        "en",
        "Europe/London",
        "GB",
        0.22,
        ("Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "George", "Emily"),
        ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans"),
    ),
    Market(
        "en",
        "America/New_York",
        "US",
        0.10,
        ("Liam", "Olivia", "Noah", "Emma", "James", "Sophia", "Mason", "Mia"),
        ("Johnson", "Williams", "Miller", "Davis", "Garcia", "Moore"),
    ),
    Market(
        "tr",
        "Europe/Istanbul",
        "TR",
        0.12,
        ("Ayşe", "Mehmet", "Zeynep", "Mustafa", "Elif", "Emre", "Fatma", "Can"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Aydın"),
    ),
    Market(
        "hu",
        "Europe/Budapest",
        "HU",
        0.07,
        ("Bence", "Anna", "Máté", "Hanna", "Levente", "Zsófia", "Dániel", "Réka"),
        ("Nagy", "Kovács", "Tóth", "Szabó", "Horváth", "Varga"),
    ),
    Market(
        "ko",
        "Asia/Seoul",
        "KR",
        0.10,
        ("민준", "서연", "도윤", "지우", "하준", "서윤", "지호", "하은"),
        ("김", "이", "박", "최", "정", "강"),
    ),
    Market(
        "de",
        "Europe/Berlin",
        "DE",
        0.12,
        ("Lukas", "Mia", "Leon", "Hannah", "Finn", "Lea", "Jonas", "Lena"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker"),
    ),
    Market(
        "fr",
        "Europe/Paris",
        "FR",
        0.09,
        ("Gabriel", "Louise", "Léo", "Chloé", "Raphaël", "Inès", "Hugo", "Léa"),
        ("Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau"),
    ),
    Market(
        "pl",
        "Europe/Warsaw",
        "PL",
        0.07,
        ("Jakub", "Zuzanna", "Antoni", "Julia", "Jan", "Maja", "Szymon", "Hanna"),
        ("Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski"),
    ),
    Market(
        "sv",
        "Europe/Stockholm",
        "SE",
        0.06,
        ("William", "Alice", "Hugo", "Maja", "Lucas", "Elsa", "Oscar", "Astrid"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson"),
    ),
    Market(
        "ar",
        "Asia/Riyadh",
        "SA",
        0.03,
        ("محمد", "فاطمة", "أحمد", "نورة", "عبدالله", "سارة", "خالد", "مريم"),
        ("العتيبي", "القحطاني", "الشمري", "الحربي", "الدوسري", "الزهراني"),
    ),
    Market(
        "pt-BR",
        "America/Sao_Paulo",
        "BR",
        0.02,
        ("Miguel", "Helena", "Arthur", "Alice", "Heitor", "Laura", "Davi", "Valentina"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira"),
    ),
)


@dataclass(frozen=True)
class Category:
    name: str
    price: float  # median unit price
    replenish_days: int | None  # consumables come back on a rhythm


CATEGORIES: tuple[Category, ...] = (
    Category("skincare", 24.0, 45),
    Category("haircare", 14.0, 40),
    Category("coffee", 11.0, 21),
    Category("pet_food", 32.0, 30),
    Category("vitamins", 18.0, 60),
    Category("books", 15.0, None),
    Category("toys", 22.0, None),
    Category("home", 35.0, None),
    Category("fashion", 42.0, None),
    Category("electronics", 89.0, None),
)
SKUS_PER_CATEGORY = 25
