from service.engines.tesseract import parse_tsv
from service.pages import Page

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
ROWS = [
    "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
    "5\t1\t1\t1\t1\t1\t10\t20\t30\t10\t96.5\tHello",
    "5\t1\t1\t1\t1\t2\t45\t20\t30\t10\t90.5\tworld",
    "5\t1\t1\t1\t2\t1\t10\t40\t30\t10\t80\tsecond",
    "5\t1\t2\t1\t1\t1\t10\t80\t30\t10\t50\tnext",
    "5\t1\t2\t1\t1\t2\t10\t80\t30\t10\t-1\t ",
]
PAGE = Page(number=2, width=100, height=100)


def test_lines_and_paragraphs_are_rebuilt_like_tesseract_text_output():
    result = parse_tsv("\n".join([HEADER, *ROWS]), PAGE, include_words=False)
    assert result.text == "Hello world\nsecond\n\nnext"
    assert result.confidence == round((96.5 + 90.5 + 80 + 50) / 4, 1)
    assert (result.page, result.source, result.words) == (2, "ocr", [])


def test_words_carry_boxes_in_page_pixels():
    result = parse_tsv("\n".join([HEADER, *ROWS]), PAGE, include_words=True)
    assert [word.text for word in result.words] == ["Hello", "world", "second", "next"]
    assert result.words[1].box == [45, 20, 75, 30]
    assert result.words[0].confidence == 96.5


def test_an_empty_page_has_no_text_and_zero_confidence():
    result = parse_tsv(HEADER + "\n" + ROWS[0], PAGE, include_words=True)
    assert (result.text, result.confidence, result.words) == ("", 0.0, [])


def test_unsure_words_leave_the_text_but_not_the_words_or_the_mean():
    result = parse_tsv("\n".join([HEADER, *ROWS]), PAGE, include_words=True, min_confidence=85)
    assert result.text == "Hello world"  # "second" (80) and "next" (50) drop, and their empty lines
    assert [word.text for word in result.words] == ["Hello", "world", "second", "next"]
    assert result.confidence == round((96.5 + 90.5 + 80 + 50) / 4, 1)
