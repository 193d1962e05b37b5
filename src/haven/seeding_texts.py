"""What seeded requesters write: short messages in Russian, Ukrainian and English, varied enough to search.

Every message opens with a sentence about its request type that names a town, a front-line place or a
country (the words in SEARCH_TERMS), and may go on with one or two common sentences. A unit number or an
article of the criminal code makes some messages findable by a rare term.
"""

from __future__ import annotations

import random

LANGUAGE_WEIGHTS = (("ru", 0.6), ("uk", 0.25), ("en", 0.15))

PLACES = {
    "ru": ("Бахмутом", "Авдеевкой", "Покровском", "Курском", "Херсоном", "Угледаром", "Купянском"),
    "uk": ("Бахмутом", "Авдіївкою", "Покровськом", "Куп'янськом", "Вугледаром", "Часовим Яром"),
    "en": ("Bakhmut", "Avdiivka", "Pokrovsk", "Kupiansk", "Vuhledar", "Chasiv Yar", "Kursk"),
}
CITIES = {
    "ru": ("Москве", "Казани", "Новосибирске", "Екатеринбурге", "Ростове", "Уфе", "Перми", "Бурятии"),
    "uk": ("Мелітополі", "Донецьку", "Луганську", "Бердянську", "Маріуполі", "Криму"),
    "en": ("Moscow", "Kazan", "Novosibirsk", "Yekaterinburg", "Rostov", "Ufa", "Perm", "Buryatia"),
}
COUNTRIES = {
    "ru": ("Казахстан", "Грузию", "Армению", "Турцию", "Сербию", "Монголию"),
    "uk": ("Грузію", "Туреччину", "Казахстан", "Вірменію", "Польщу"),
    "en": ("Kazakhstan", "Georgia", "Armenia", "Turkey", "Serbia", "Mongolia"),
}
RELATIVES = {
    "ru": ("сын", "муж", "брат", "жених"),
    "uk": ("син", "чоловік", "брат", "наречений"),
    "en": ("son", "husband", "brother", "fiancé"),
}
ARTICLES = ("337", "338", "352.1", "328", "332")

OPENINGS = {
    "ru": {
        "leave_service": (
            "Служу в в/ч {unit}, нас отправляют под {place} через {days} дня.",
            "Хочу сдаться в плен под {place}, как выйти на связь безопасно?",
            "Я уже {days} дней как ушёл из части, сейчас прячусь в {city}.",
            "Лежу в госпитале в {city}, после выписки отправят обратно под {place}.",
        ),
        "avoid_mobilisation": (
            "Мне принесли повестку на работу в {city}, явиться через {days} дня.",
            "Военкомат в {city} звонит матери и требует, чтобы я пришёл.",
            "Хочу уехать в {country}, но боюсь, что не выпустят на границе.",
        ),
        "relative": (
            "Мой {relative} пропал без вести под {place} {days} недели назад.",
            "Мой {relative} в плену после боёв под {place}, как узнать, где он?",
            "Мой {relative} служит под {place} и хочет уйти, что ему делать?",
        ),
        "legal": (
            "На меня завели дело по статье {article} в {city}, что грозит?",
            "Контракт закончился, но в в/ч {unit} в {city} не увольняют.",
        ),
        "support": (
            "После {place} не могу спать, всё время думаю о том, что видел.",
            "Мне страшно, не с кем поговорить, родные в {city} ничего не знают.",
        ),
        "other": (
            "Нужна помощь с документами для выезда в {country}.",
            "Как безопасно переправить деньги родным в {city}?",
        ),
    },
    "uk": {
        "leave_service": (
            "Мене мобілізували в {city}, зараз під {place}, хочу здатися в полон.",
            "Служу у в/ч {unit} під {place}, як безпечно вийти на зв'язок?",
        ),
        "avoid_mobilisation": (
            "Я живу в {city}, мені принесли повістку, явитися за {days} дні.",
            "Хочу виїхати через {country}, але боюся, що не випустять.",
        ),
        "relative": (
            "Мій {relative} зник безвісти під {place} {days} тижні тому.",
            "Мій {relative} у полоні після боїв під {place}, допоможіть дізнатися, де він.",
        ),
        "legal": (
            "У {city} на мене завели справу за статтею {article}, що робити?",
            "Мене хочуть примусово мобілізувати в {city}, чи законно це?",
        ),
        "support": ("Після {place} не можу спати, мені страшно і немає з ким поговорити.",),
        "other": ("Потрібна допомога з документами для виїзду в {country}.",),
    },
    "en": {
        "leave_service": (
            "I serve in unit {unit} near {place} and want to surrender safely.",
            "We are being sent to {place} in {days} days; how do I get out?",
        ),
        "avoid_mobilisation": (
            "I got a summons at work in {city}; I must report in {days} days.",
            "I want to leave for {country} but fear they will stop me at the border.",
        ),
        "relative": (
            "My {relative} went missing near {place} {days} weeks ago.",
            "My {relative} was captured near {place}; how can we find him?",
        ),
        "legal": (
            "My contract ended but unit {unit} in {city} will not discharge me. Is that legal?",
            "They opened a case under article {article} in {city}; what can I expect?",
        ),
        "support": ("Since {place} I cannot sleep, and there is nobody I can talk to.",),
        "other": ("Can you help my brother get documents to leave for {country}?",),
    },
}
FOLLOWERS = {
    "ru": (
        "Пожалуйста, ответьте как можно скорее.",
        "Пишу с чужого телефона, не звоните.",
        "Документы у меня забрали.",
        "Денег почти нет.",
        "Родители ничего не знают.",
    ),
    "uk": (
        "Будь ласка, відповідайте якнайшвидше.",
        "Пишу з чужого телефону.",
        "Документи в мене забрали.",
    ),
    "en": (
        "Please answer as soon as you can.",
        "I am writing from a friend's phone.",
        "They took my documents.",
    ),
}

SEARCH_TERMS = tuple(
    sorted({word for table in (PLACES, CITIES, COUNTRIES) for words in table.values() for word in words})
)


def message(rng: random.Random, language: str, request_type: str) -> str:
    """A plausible first message for this request type, in this language."""
    opening = rng.choice(OPENINGS[language][request_type]).format(
        unit=rng.randint(10_000, 99_999),
        place=rng.choice(PLACES[language]),
        city=rng.choice(CITIES[language]),
        country=rng.choice(COUNTRIES[language]),
        relative=rng.choice(RELATIVES[language]),
        article=rng.choice(ARTICLES),
        days=rng.randint(2, 4),
    )
    followers = rng.sample(FOLLOWERS[language], k=rng.randint(0, 2))
    return " ".join([opening, *followers])
